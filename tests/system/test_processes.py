"""system/processes.py: children start as the root of a tree that ends as one.

POSIX for real (process groups, psutil to look); the Windows path (CREATE_NEW_PROCESS_GROUP
and a kill-on-close Job Object) with a recording fake kernel32, which is all this machine has.
"""
from __future__ import annotations

import ctypes
import subprocess
import sys
import time

import psutil
import pytest

from prefectwin.system import processes
from prefectwin.system.windows_jobs import JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, ExtendedLimits, KillOnCloseJob

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
SPAWN_AND_SLEEP = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); print('ready', flush=True); time.sleep(300)"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if not _gone(p)]


@posix_only
def test_a_child_leads_its_own_process_group_and_its_tree_ends_as_one():
    proc = processes.start([sys.executable, "-c", SPAWN_AND_SLEEP], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        assert psutil.Process(proc.pid).children()  # the grandchild
        import os

        assert os.getpgid(proc.pid) == proc.pid != os.getpgid(0)
        tree = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
        assert proc in processes.live()
        processes.end_tree(proc)
        proc.wait(timeout=10)
        assert _wait_gone(tree) == []
        assert proc not in processes.live()
        processes.end_tree(proc)  # twice is harmless
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@posix_only
def test_run_ends_what_a_finished_child_left_in_its_group():
    # The child exits at once, leaving a grandchild behind in its process group.
    leave_behind = "import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); print(p.pid)"
    done = processes.run([sys.executable, "-c", leave_behind], timeout=30)
    assert done.returncode == 0
    assert _wait_gone([int(done.stdout)]) == []


@posix_only
def test_run_time_out_kills_the_grandchildren_too():
    with pytest.raises(subprocess.TimeoutExpired):
        processes.run([sys.executable, "-c", SPAWN_AND_SLEEP], timeout=2)
    assert processes.live() == []
    stray = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and "time.sleep(300)" in " ".join(p.info["cmdline"]) and p.ppid() == 1]
    assert _wait_gone([p.pid for p in stray]) == []


class FakeKernel32:
    """Records the Job Object calls; handles are small integers."""

    def __init__(self, fail: str = "") -> None:
        self.calls: list[tuple] = []
        self.fail = fail
        self.limits = None

    def _ok(self, name: str, *args) -> int:
        self.calls.append((name, *args))
        return 0 if name == self.fail else 1

    def CreateJobObjectW(self, attributes, name):
        self.calls.append(("CreateJobObjectW", attributes, name))
        return 0 if self.fail == "CreateJobObjectW" else 77

    def SetInformationJobObject(self, handle, info_class, pointer, size):
        self.limits = ctypes.cast(pointer, ctypes.POINTER(ExtendedLimits)).contents.BasicLimitInformation.LimitFlags
        return self._ok("SetInformationJobObject", handle, info_class, size)

    def AssignProcessToJobObject(self, handle, process):
        return self._ok("AssignProcessToJobObject", handle, process)

    def TerminateJobObject(self, handle, code):
        return self._ok("TerminateJobObject", handle, code)

    def CloseHandle(self, handle):
        return self._ok("CloseHandle", handle)


class FakeProc:
    _handle = 4242


def test_a_windows_job_kills_its_processes_when_its_handle_closes():
    kernel32 = FakeKernel32()
    job = KillOnCloseJob(kernel32)
    assert kernel32.limits == JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    job.assign(FakeProc())
    job.terminate()
    job.close()
    job.close()
    assert [c[0] for c in kernel32.calls] == [
        "CreateJobObjectW", "SetInformationJobObject", "AssignProcessToJobObject", "TerminateJobObject", "CloseHandle",
    ]
    assert ("AssignProcessToJobObject", 77, 4242) in kernel32.calls
    assert ("SetInformationJobObject", 77, 9, ctypes.sizeof(ExtendedLimits)) in kernel32.calls


@pytest.mark.parametrize("failing", ["CreateJobObjectW", "SetInformationJobObject", "AssignProcessToJobObject"])
def test_a_job_that_cannot_be_set_up_raises_oserror(failing):
    kernel32 = FakeKernel32(fail=failing)
    with pytest.raises(OSError):
        job = KillOnCloseJob(kernel32)
        job.assign(FakeProc())


@posix_only
def test_the_windows_path_puts_each_child_in_a_new_group_and_its_own_job(monkeypatch):
    """The Windows branch of start/end_tree, run here with the fake kernel32: the child gets
    CREATE_NEW_PROCESS_GROUP, is assigned to a job of its own, and end_tree terminates that job."""
    kernel32 = FakeKernel32()
    seen = {}
    real_popen = subprocess.Popen

    def popen(argv, **kwargs):
        seen.update(kwargs)
        kwargs.pop("creationflags")  # not a POSIX argument; the flag is what is asserted
        proc = real_popen(argv, **kwargs)
        proc._handle = 4242
        return proc

    monkeypatch.setattr(processes.subprocess, "Popen", popen)
    monkeypatch.setattr(processes, "job_factory", lambda: KillOnCloseJob(kernel32))
    proc = processes.start([sys.executable, "-c", "import time; time.sleep(30)"], windows=True)
    try:
        assert seen["creationflags"] & 0x200  # CREATE_NEW_PROCESS_GROUP
        assert "start_new_session" not in seen
        assert ("AssignProcessToJobObject", 77, 4242) in kernel32.calls
        processes.end_tree(proc)
        assert [c[0] for c in kernel32.calls][-2:] == ["TerminateJobObject", "CloseHandle"]
    finally:
        proc.kill()
        proc.wait()
