"""Every child process the backend starts, and how its whole tree is ended.

A child (the target-interpreter probe, nssm.exe) must not outlive the command that started it:
not when it times out, not when the backend is interrupted, not when the backend's caller goes
away. So each child is started as the root of a tree that can be ended as one:
- POSIX: a new session, hence its own process group; `os.killpg` ends the group. A terminal's
  Ctrl-C therefore no longer reaches the child directly; the backend ends it itself.
- Windows: a new process group (CREATE_NEW_PROCESS_GROUP, so a console Ctrl-C is the backend's
  alone) inside a Job Object that kills its processes when its last handle closes
  (system/windows_jobs.py). If the backend dies, Windows closes the handle and the tree goes.

`end_tree` only sends; it never waits, so a signal handler may call it (a handler that waited
could deadlock on the lock of a `wait()` it interrupted). The owner of a Popen reaps it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any, Optional

_live: dict[int, subprocess.Popen] = {}
_jobs: dict[int, Any] = {}
_lock = threading.Lock()
# Tests replace it to check the Windows path with a fake kernel32.
job_factory: Optional[Any] = None


def _new_job() -> Any:
    if job_factory is not None:
        return job_factory()
    from prefectwin.system.windows_jobs import KillOnCloseJob

    return KillOnCloseJob()


def start(argv: list[str], *, windows: Optional[bool] = None, **popen: Any) -> subprocess.Popen:
    """subprocess.Popen, as the root of a tree that `end_tree` ends as one."""
    windows = sys.platform == "win32" if windows is None else windows
    if windows:
        popen["creationflags"] = popen.get("creationflags", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
    else:
        popen["start_new_session"] = True
    proc = subprocess.Popen(argv, **popen)
    job = None
    if windows:
        # Without a job the child is still ended on time-out and interruption (by
        # TerminateProcess); only its own children could then outlive it.
        try:
            job = _new_job()
        except OSError:
            job = None
        if job is not None:
            try:
                job.assign(proc)
            except OSError:
                job.close()
                job = None
    with _lock:
        _live[proc.pid] = proc
        if job is not None:
            _jobs[proc.pid] = job
    return proc


def end_tree(proc: subprocess.Popen) -> None:
    """Kill the child and every process of its tree. Safe to call twice, or after it exited."""
    with _lock:
        _live.pop(proc.pid, None)
        job = _jobs.pop(proc.pid, None)
    if job is not None:
        try:
            job.terminate()
        finally:
            job.close()
        return
    if sys.platform == "win32" or not hasattr(os, "killpg"):
        if proc.poll() is None:
            proc.kill()
        return
    try:
        # The group outlives its leader while any member lives, and its id is not reused
        # meanwhile, so this also reaches what the child left behind after it exited.
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def end_all() -> None:
    """End every child tree still running (on interruption, or when the caller is gone)."""
    with _lock:
        procs = list(_live.values())
    for proc in procs:
        end_tree(proc)


def live() -> list[subprocess.Popen]:
    with _lock:
        return list(_live.values())


def run(argv: list[str], *, timeout: float, input: Optional[bytes] = None, **popen: Any) -> subprocess.CompletedProcess:
    """subprocess.run with output captured, that ends the child's whole tree on time-out, on
    interruption, and after it exits (whatever it left behind in its group)."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    if input is None:
        popen.setdefault("stdin", subprocess.DEVNULL)
    else:
        popen["stdin"] = subprocess.PIPE
    proc = start(argv, **popen)
    try:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as expired:
            end_tree(proc)
            proc.communicate()
            raise subprocess.TimeoutExpired(argv, timeout, output=expired.output, stderr=expired.stderr) from None
    except BaseException:
        end_tree(proc)
        raise
    end_tree(proc)
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
