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
# Re-entrant: a stop signal's handler ends every tree (end_all) in the main thread, which may
# be holding this lock in start() or end_tree() at that moment.
_lock = threading.RLock()
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
    interruption, and once it exits: what it left in its group would otherwise keep the pipes
    open (and the call waiting) long after the child itself is done."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    popen["stdin"] = subprocess.PIPE if input is not None else popen.get("stdin", subprocess.DEVNULL)
    proc = start(argv, **popen)
    output: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        output[name] = stream.read()
        stream.close()

    readers = [
        threading.Thread(target=drain, args=(name, stream), daemon=True)
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))
        if stream is not None
    ]
    for reader in readers:
        reader.start()
    try:
        if input is not None and proc.stdin is not None:
            try:
                proc.stdin.write(input)
                proc.stdin.close()
            except OSError:
                pass  # it exited without reading; its exit code says why
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            end_tree(proc)
            proc.wait()
            for reader in readers:
                reader.join()
            raise subprocess.TimeoutExpired(argv, timeout, output=output.get("stdout"), stderr=output.get("stderr")) from None
    except BaseException:
        end_tree(proc)
        raise
    end_tree(proc)
    for reader in readers:
        reader.join()
    return subprocess.CompletedProcess(argv, proc.returncode, output.get("stdout"), output.get("stderr"))
