"""Applying a plan: run the steps in order; when one fails, undo the ones already done (last
first) and report what was rolled back. The steps are callables handed in by the command, so
this module touches nothing itself."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from prefectwin.errors import ApplyFailed, PrefectWinError

# A step does its work and returns how to undo it (None when there is nothing to undo).
Step = tuple[str, Callable[[], Optional[Callable[[], None]]]]


def run_steps(steps: Sequence[Step], *, scrub: Callable[[str], str] = lambda s: s) -> list[str]:
    """Run `(description, do)` steps; returns the descriptions done. `scrub` masks secrets in
    the messages of a failure."""
    from prefectwin import interrupts

    with interrupts.deferred():
        return _run(steps, scrub)


def _run(steps: Sequence[Step], scrub: Callable[[str], str]) -> list[str]:
    from prefectwin.interrupts import Interrupted, check

    done: list[tuple[str, Optional[Callable[[], None]]]] = []
    for description, do in steps:
        try:
            check()  # a stop signal during the last step: undo, as for a failure
            done.append((description, do()))
        except (Exception, Interrupted) as exc:  # noqa: BLE001 - every failure is rolled back and reported
            details = []
            for earlier, undo in reversed(done):
                if undo is None:
                    continue
                try:
                    undo()
                    details.append({"action": earlier, "rolledBack": True})
                except Exception as undo_exc:  # noqa: BLE001
                    details.append({"action": earlier, "rolledBack": False, "error": scrub(str(undo_exc))})
            if isinstance(exc, Interrupted):
                exc.details = details or None
                raise
            if isinstance(exc, PrefectWinError) and not done:
                exc.message = scrub(exc.message)
                exc.args = (exc.message,)
                raise
            reason = exc.message if isinstance(exc, PrefectWinError) else f"{type(exc).__name__}: {exc}"
            raise ApplyFailed(
                scrub(f"'{description}' failed: {reason}"),
                target=description,
                remediation="Nothing was left half-done: the earlier steps were rolled back (see details)."
                if all(d["rolledBack"] for d in details)
                else "Some earlier steps could not be rolled back; see details and fix them by hand.",
                details=details or None,
            ) from None
    return [d for d, _ in done]
