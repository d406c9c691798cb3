"""The one executor and the one rollback.

    apply(plan, steps=..., runtime=..., events=..., confirm=None, journal=True, ...)

runs the plan's confirmed actions (model.select: a declined action skips whatever depends on
it) in order. Before each step the journal records it as started, after it as done. When a
step fails, the steps already done are undone in reverse (undo kinds in `steps.run_last`, such
as starting a service again, go last), and ApplyFailed names the failed step, its error, and
what was and was not rolled back. A stop signal lets the step in progress finish, then rolls
back the same way (interrupts.py). When the apply or its rollback completes, its journal
record is removed; only a killed backend leaves one (recovery.py).

A family of commands supplies a `Steps`: how to perform each action kind through its runtime
(the adapter and what else the command resolved), and each kind's inverse, computed from the
action's own data. The family's module also has `runtime(context)`, which rebuilds that
runtime from the journal's context in a new process.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from prefectwin.change.model import Action, Plan, select
from prefectwin.errors import ApplyFailed, PrefectWinError
from prefectwin.events import Events
from prefectwin.secrets import scrub


class NotReversible(Exception):
    """Raised by an inverse for a step that cannot be undone; the message says why."""


@dataclass(frozen=True)
class Steps:
    #: the module that defines this Steps as STEPS and a runtime(context) function
    module: str
    perform: Callable[[Action, Any], None]
    #: the action that undoes one; None when another undo covers it; NotReversible if none can
    inverse: Callable[[Action], Optional[Action]]
    run_last: frozenset[str] = field(default_factory=frozenset)
    #: kinds whose failed (or cut) step may be half done: their tolerant inverse runs too
    undo_when_failed: frozenset[str] = field(default_factory=frozenset)


def _message(exc: BaseException, secrets: tuple[str, ...]) -> str:
    text = exc.message if isinstance(exc, PrefectWinError) else (str(exc) or type(exc).__name__)
    return scrub(text, *secrets)


def rollback(
    done: list[Action],
    steps: Steps,
    runtime: Any,
    events: Events,
    secrets: tuple[str, ...] = (),
    *,
    uncertain: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Undo `done` (in reverse, run_last kinds last). One report entry per step. A step in
    `uncertain` (ids) may not have happened: its undo failing is reported as such."""
    from prefectwin.change.journal import contains_secret

    maybe = set(uncertain)
    undos: list[tuple[Action, Action]] = []
    report: list[dict[str, Any]] = []
    for action in reversed(done):
        try:
            undo = steps.inverse(action)
        except NotReversible as why:
            report.append({"action": action.description, "rolledBack": False, "reason": str(why)})
            continue
        if undo is not None and contains_secret(undo.data):
            report.append({"action": action.description, "rolledBack": False, "reason": "undoing it needs a secret, which the journal does not keep"})
            continue
        if undo is not None:
            undos.append((action, undo))
    undos.sort(key=lambda pair: pair[1].kind in steps.run_last)
    for action, undo in undos:
        events.verbose(f"Rolling back: {undo.description}")
        try:
            steps.perform(undo, runtime)
            report.append({"action": action.description, "rolledBack": True, "undo": undo.description})
        except Exception as exc:  # noqa: BLE001 - keep undoing the rest, and report this one
            if action.id in maybe:
                report.append({"action": action.description, "rolledBack": True, "undo": undo.description, "reason": "it had not been done"})
            else:
                report.append({"action": action.description, "rolledBack": False, "undo": undo.description, "reason": _message(exc, secrets)})
    return report


def apply(
    plan: Plan,
    *,
    steps: Steps,
    runtime: Any,
    events: Events,
    confirm: Optional[Iterable[str]] = None,
    journal: bool = True,
    command: str = "",
    summary: str = "",
    context: Optional[dict[str, Any]] = None,
    secrets: tuple[str, ...] = (),
    activity: str = "Applying the PrefectWin plan",
    replaces: Optional[str] = None,
) -> list[Action]:
    """Run the confirmed actions of `plan`; returns those that ran. See the module docstring."""
    from prefectwin import interrupts

    run, skipped = select(plan, confirm)
    for action in skipped:
        events.verbose(f"Skipped (not confirmed, or it depends on an action that was not): {action.description}")
    if not run:
        return []
    record = None
    if journal:
        from prefectwin.change.journal import Journal

        record = Journal.begin(
            plan_id=plan.id,
            command=command,
            summary=summary or command,
            steps=steps.module,
            context=context or {},
            actions=run,
            secrets=secrets,
            replaces=replaces,
        )
    with interrupts.deferred():
        try:
            _apply(run, steps, runtime, events, secrets, record, activity)
        finally:
            if record is not None:
                record.close()
    return run


def _apply(run: list[Action], steps: Steps, runtime: Any, events: Events, secrets: tuple[str, ...], record: Any, activity: str) -> None:
    from prefectwin.interrupts import Interrupted, check

    done: list[Action] = []
    total = len(run)
    for index, action in enumerate(run):
        events.progress(activity, action.description, int(100 * index / max(total, 1)))
        events.verbose(action.description)
        try:
            check()
        except Interrupted as stop:
            stop.details = rollback(done, steps, runtime, events, secrets) or None
            raise
        if record is not None:
            record.mark(action.id, "started")
        try:
            steps.perform(action, runtime)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the machine is restored
            _failed(action, exc, done, steps, runtime, events, secrets, activity)
        if record is not None:
            record.mark(action.id, "done")
        done.append(action)
    events.progress(activity, "Done", 100)


def _failed(action: Action, exc: Exception, done: list[Action], steps: Steps, runtime: Any, events: Events, secrets: tuple[str, ...], activity: str) -> None:
    original = _message(exc, secrets)
    code = exc.code if isinstance(exc, PrefectWinError) else type(exc).__name__
    half_done = action.kind in steps.undo_when_failed
    report = rollback(done + ([action] if half_done else []), steps, runtime, events, secrets, uncertain=[action.id] if half_done else [])
    events.progress(activity, "Rolled back", 100)
    if isinstance(exc, PrefectWinError) and not done:
        # Nothing had changed (say, the first write was refused): the error as it is.
        exc.message = original
        exc.args = (original,)
        raise exc from None
    failed_undo = [r for r in report if not r["rolledBack"]]
    rolled = sum(1 for r in report if r["rolledBack"])
    message = f"{action.description} failed: {original} Rolled back {rolled} step(s)"
    if failed_undo:
        message += "; not rolled back: " + "; ".join(f"{r['action']} ({r['reason']})" for r in failed_undo)
    raise ApplyFailed(
        message + ".",
        target=action.target,
        remediation=(
            "Fix the cause above and run the command again."
            if not failed_undo
            else "Fix the cause above, check the steps that were not rolled back, then run the command again."
        ),
        details=[{"failedAction": action.description, "kind": action.kind, "code": code, "message": original}, *report],
    ) from None
