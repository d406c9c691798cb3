"""Stop signals and lost callers: no process left behind, no traceback, a consistent state.

Real backends (`python -X utf8 -m prefectwin rpc|serve`) are killed while they wait for a
target probe that never answers (a script that starts a grandchild and sleeps), and in the
middle of an apply (tests/fakes/slow_apply_backend.py: the real backend with a fake,
Windows-like adapter whose every change takes two seconds). psutil finds what is left.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals; Windows uses Job Objects (tests/system/test_processes.py)")

PYTHON = sys.executable
FAKES = Path(__file__).resolve().parents[1] / "fakes"
HANG = """#!/bin/sh
sleep 300 &
echo $! > "$0.grandchild"
echo started > "$0.started"
sleep 300
"""


@pytest.fixture
def hanging_python(tmp_path: Path) -> Path:
    """A 'python' that never answers the probe, with a child of its own."""
    script = tmp_path / "hanging-python"
    script.write_text(HANG)
    script.chmod(0o755)
    return script


def _wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}", pytrace=False)
        time.sleep(0.05)


def _tree(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _alive(procs: list[psutil.Process]) -> list[int]:
    left = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(proc.pid)
        except psutil.NoSuchProcess:
            pass
    return left


def _assert_gone(procs: list[psutil.Process]) -> None:
    deadline = time.monotonic() + 5
    while _alive(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(procs) == [], "processes outlived the backend"


def _start(mode: str, env=None, argv_prefix=None) -> subprocess.Popen:
    argv = argv_prefix or [PYTHON, "-X", "utf8", "-m", "prefectwin", mode]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _send_and_close(proc: subprocess.Popen, data: bytes) -> None:
    proc.stdin.write(data)
    proc.stdin.close()
    proc.stdin = None  # so that communicate() does not flush it again


def _probe_request(python: Path) -> dict:
    return {"protocol": 1, "command": "environment.test", "params": {"pythonPath": str(python), "check": ["python.found"]}}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_probe_ends_the_probe_tree_and_answers_at_once(signum, hanging_python):
    proc = _start("rpc")
    _send_and_close(proc, json.dumps(_probe_request(hanging_python)).encode())
    _wait_for(lambda: Path(f"{hanging_python}.started").exists(), what="the probe to start")
    children = _tree(proc.pid)
    assert len(children) >= 2, "the probe and its own child should be running"
    started = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10, "the backend waited for the probe instead of stopping"
    assert b"Traceback" not in stdout and b"Traceback" not in stderr
    response = json.loads(stdout)
    assert stdout.count(b"\n") == 1
    assert response["error"]["code"] == "Interrupted" and response["error"]["category"] == "OperationStopped"
    assert signal.Signals(signum).name in response["error"]["message"]
    assert proc.returncode == 1
    _assert_gone(children)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_session_request_answers_it_then_ends_the_session(signum, hanging_python):
    proc = _start("serve")
    proc.stdin.write(json.dumps({"id": 1, "protocol": 1, "command": "module.version"}).encode() + b"\n")
    proc.stdin.write(json.dumps({"id": 2, **_probe_request(hanging_python)}).encode() + b"\n")
    proc.stdin.flush()
    _wait_for(lambda: Path(f"{hanging_python}.started").exists(), what="the probe to start")
    children = _tree(proc.pid)
    proc.send_signal(signum)
    stdout, _ = proc.communicate(timeout=30)
    answers = [line for line in map(json.loads, stdout.splitlines()) if "ok" in line]  # not events
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[0]["ok"] and answers[1]["error"]["code"] == "Interrupted"
    assert proc.returncode == 128 + signum
    _assert_gone(children)


def test_an_idle_session_stops_on_sigterm_without_a_word():
    proc = _start("serve")
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert stdout == b"" and b"Traceback" not in stderr
    assert proc.returncode == 128 + signal.SIGTERM


def test_a_session_whose_caller_is_killed_ends_with_its_children(tmp_path, hanging_python):
    """A real parent (standing in for PowerShell) starts `serve`, sends a request that waits on
    a probe, and is SIGKILLed; the backend notices and ends itself and the probe tree."""
    pid_file = tmp_path / "backend.pid"
    parent_source = f"""
import json, subprocess, sys, time
backend = subprocess.Popen([{PYTHON!r}, "-X", "utf8", "-m", "prefectwin", "serve"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open({str(pid_file)!r}, "w").write(str(backend.pid))
backend.stdin.write((json.dumps({{"id": 1, **{_probe_request(hanging_python)!r}}}) + "\\n").encode())
backend.stdin.flush()
time.sleep(300)
"""
    # The parent keeps stdin open (it is alive until killed); a SIGKILL closes it with it, but
    # the probe is still in flight, so only noticing the parent's death ends the backend then.
    parent = subprocess.Popen([PYTHON, "-c", parent_source])
    try:
        _wait_for(lambda: Path(f"{hanging_python}.started").exists(), what="the probe to start")
        backend = psutil.Process(int(pid_file.read_text()))
        tree = [backend, *backend.children(recursive=True)]
        parent.kill()
        parent.wait(timeout=10)
        _assert_gone(tree)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_probe_that_times_out_is_ended_with_its_whole_tree(hanging_python, monkeypatch):
    from prefectwin.diagnosis import probe

    monkeypatch.setattr(probe, "PROBE_TIMEOUT_SEC", 1)
    started = time.monotonic()
    python, _ = probe.run_probe(str(hanging_python), env=dict(os.environ), cwd=None)
    assert "did not answer within 1 s" in python.error
    assert time.monotonic() - started < 10
    # Not only the interpreter: the grandchild (`sleep 300 &`) it left is gone too.
    grandchild = int(Path(f"{hanging_python}.grandchild").read_text())
    _wait_for(lambda: _pid_gone(grandchild), timeout=5, what="the probe's grandchild to end")


def _pid_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- the middle of an apply -----------------------------------------------------------------
ALIAS, CANONICAL = "PREFECT_API_DATABASE_TIMEOUT", "PREFECT_SERVER_DATABASE_TIMEOUT"


def _apply_backend(tmp_path: Path, before: dict) -> tuple[subprocess.Popen, Path, Path]:
    state, in_step = tmp_path / "user-environment.json", tmp_path / "in-step"
    state.write_text(json.dumps(before))
    env = {**os.environ, "FAKE_STATE": str(state), "FAKE_IN_STEP": str(in_step), "FAKE_STEP_SEC": "2"}
    proc = subprocess.Popen(
        [PYTHON, "-X", "utf8", str(FAKES / "slow_apply_backend.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    # Setting the canonical name also removes its legacy alias: a plan of two steps.
    request = {"protocol": 1, "command": "setting.set", "params": {"name": CANONICAL, "value": "30", "scope": "User"}}
    _send_and_close(proc, json.dumps(request).encode())
    return proc, state, in_step


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_middle_of_an_apply_finishes_the_step_then_undoes_it(signum, tmp_path):
    before = {"User": {ALIAS: "5"}}
    proc, state, in_step = _apply_backend(tmp_path, before)
    _wait_for(lambda: in_step.exists(), timeout=60, what="the first apply step")
    children = _tree(proc.pid)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert b"Traceback" not in stdout
    response = json.loads(stdout)
    error = response["error"]
    assert error["code"] == "Interrupted"
    assert "undone" in error["message"]
    assert error["details"] and all(d["rolledBack"] for d in error["details"])
    # Wholly before: the first step was finished, then undone; the second never started.
    assert json.loads(state.read_text()) == before
    assert in_step.read_text().splitlines() == [CANONICAL, CANONICAL]  # the step, then its undo
    _assert_gone(children)


def test_without_a_signal_the_same_apply_completes(tmp_path):
    proc, state, _ = _apply_backend(tmp_path, {"User": {ALIAS: "5"}})
    stdout, _ = proc.communicate(timeout=120)
    response = json.loads(stdout)
    assert response["ok"], response
    assert json.loads(state.read_text()) == {"User": {CANONICAL: "30"}}
