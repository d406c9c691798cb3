"""SIGINT, SIGTERM (and SIGHUP, SIGBREAK): end the children, answer, and stop.

A signal ends every child tree at once (system/processes.py) and raises `Interrupted` in the
main thread, which the bridge answers as an `Interrupted` error: no traceback, no 60-second
wait for a probe that will never be read.

A state change is different: stopping between two halves of a step would leave the machine in
neither state. Inside `deferred()` (the apply loops) a first signal is only recorded; the
step in progress finishes, `check()` before the next step raises, and the apply loop undoes
the steps done, as for any failure. A signal that arrives after the last step stops the
command once its changes are complete. A second signal stops at once.

The caller going away counts as SIGTERM: `watch_parent` notices when the backend's parent
process is gone (POSIX: the backend was re-parented) and signals the main thread.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Iterator, Optional

HANDLED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")
PARENT_POLL_SEC = 0.5

_deferring = 0
_pending: Optional[int] = None


class Interrupted(BaseException):
    """A BaseException like KeyboardInterrupt, so no `except Exception` swallows it; the apply
    loops catch it to roll back, and the bridge turns it into an answer."""

    def __init__(self, signum: int, *, completed: bool = False, forced: bool = False) -> None:
        super().__init__(signum)
        self.signum = signum
        #: the state change in progress had finished all its steps
        self.completed = completed
        #: a second signal cut a step of a state change short
        self.forced = forced
        #: the apply loop's rollback report, when it undid steps
        self.details: Optional[list[dict]] = None

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


def _on_signal(signum: int, frame: object) -> None:
    global _pending
    if _deferring and _pending is None:
        _pending = signum
        return
    forced = bool(_deferring)
    _pending = _pending or signum
    from prefectwin.system import processes

    processes.end_all()
    raise Interrupted(signum, forced=forced)


def install() -> None:
    """Handle the stop signals (main thread only; elsewhere this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name in HANDLED:
        number = getattr(signal, name, None)
        if number is not None:
            try:
                signal.signal(number, _on_signal)
            except (OSError, ValueError):
                pass


def pending() -> Optional[int]:
    return _pending


def check() -> None:
    """Between two steps of a state change: stop here if a signal came during the last one."""
    if _pending is not None:
        from prefectwin.system import processes

        processes.end_all()
        raise Interrupted(_pending)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Run a state change whose steps a first signal must not cut in half. Signals reach the
    main thread only, so elsewhere this changes nothing."""
    global _deferring
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if _deferring == 0 and _pending is not None:
        from prefectwin.system import processes

        processes.end_all()
        raise Interrupted(_pending, completed=True)


def _parent_gone(original: int) -> bool:
    if os.name != "nt":
        return os.getppid() != original
    import psutil  # Windows keeps the dead parent's id; ask whether it still runs

    try:
        return not psutil.pid_exists(original)
    except Exception:  # noqa: BLE001 - when in doubt, keep serving
        return False


def _stop_main_thread() -> None:
    if os.name != "nt" and hasattr(signal, "pthread_kill"):
        # To the main thread itself, so that a blocking read there returns with EINTR.
        signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
        return
    # Windows: a signal raised here would not wake a main thread blocked in a read. The
    # children's job handles close with the process, which ends their trees. In the middle of
    # a state change, the main thread is not blocked in a read: record the stop, as a signal
    # would be recorded, so the step finishes and the apply loop rolls back.
    global _pending
    if _deferring:
        _pending = _pending or signal.SIGTERM
        return
    from prefectwin.system import processes

    processes.end_all()
    os._exit(128 + signal.SIGTERM)


def watch_parent() -> None:
    """Stop as for SIGTERM once the process that started the backend is gone."""
    original = os.getppid()
    if original <= 1:
        return

    def watch() -> None:
        import time

        while not _parent_gone(original):
            time.sleep(PARENT_POLL_SEC)
        _stop_main_thread()

    threading.Thread(target=watch, name="prefectwin-parent-watch", daemon=True).start()


def exit_code(exc: Interrupted) -> int:
    return 128 + exc.signum if sys.platform != "win32" else 1
