"""`prefectwin doctor`: the same checks as environment.test, for humans (a table) and scripts
(--json), with exit code 1 when a check fails. Run as real processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from prefectwin.diagnosis.checks import CHECK_NAMES

# A diagnosis of the shell: the service.* checks run only for Test-PrefectEnvironment -ServiceName.
SHELL_CHECKS = [name for name in CHECK_NAMES if not name.startswith("service.")]

VENV_BIN = os.path.dirname(sys.executable)
CONSOLE_SCRIPT = os.path.join(VENV_BIN, "prefectwin.exe" if os.name == "nt" else "prefectwin")


@pytest.fixture(autouse=True)
def _in_an_empty_folder(monkeypatch, neutral_cwd):
    monkeypatch.chdir(neutral_cwd)  # the doctor (and its probe) read .env/prefect.toml from here


def doctor(*args: str, env=None, entry: str = "module", timeout: float = 120) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "prefectwin", "doctor", *args] if entry == "module" else [CONSOLE_SCRIPT, "doctor", *args]
    return subprocess.run(argv, capture_output=True, text=True, encoding="utf-8", env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture
def controlled(prefect_home, free_port):
    """A machine state in which nothing fails: free port, writable home, prefect on PATH."""
    port = free_port()
    env = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PREFECT_HOME": str(prefect_home), "PYTHONIOENCODING": "utf-8"}
    return port, env


def test_json_is_exactly_what_environment_test_returns(run_rpc, controlled):
    port, env = controlled
    done = doctor("--json", "--port", str(port), env=env)
    assert done.returncode == 0, done.stderr
    from_doctor = json.loads(done.stdout)
    from_rpc = run_rpc({"protocol": 1, "command": "environment.test", "params": {"port": port, "role": "Server"}}, env=env)
    assert from_doctor == from_rpc.response["result"]
    assert [r["check"] for r in from_doctor] == SHELL_CHECKS
    assert not any(r["status"] == "Fail" for r in from_doctor)
    assert done.stderr == ""  # the side channel is for the bridge, not for doctor --json


def test_console_script_entry_point(controlled):
    if not os.path.exists(CONSOLE_SCRIPT):
        pytest.skip(f"no console script at {CONSOLE_SCRIPT} (package not installed with its scripts)")
    port, env = controlled
    done = doctor("--json", "--port", str(port), "--check", "port.available", "--check", "encoding", env=env, entry="script")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [(r["check"], r["status"]) for r in results] == [("port.available", "Pass"), ("encoding", "Pass")]


def test_exit_code_1_when_a_check_fails(controlled, tmp_path):
    port, env = controlled
    missing = str(tmp_path / "nonexistent" / "python")
    done = doctor("--json", "--python", missing, "--port", str(port), env=env)
    assert done.returncode == 1, done.stdout
    results = {r["check"]: r for r in json.loads(done.stdout)}
    assert results["python.found"]["status"] == "Fail" and missing in results["python.found"]["message"]


def test_exit_code_1_in_table_mode_too(controlled, tmp_path):
    port, env = controlled
    done = doctor("--python", str(tmp_path / "nope"), "--port", str(port), "--check", "python.found", env=env)
    assert done.returncode == 1 and "Fail" in done.stdout and "1 fail" in done.stdout


def test_warnings_alone_exit_0(controlled):
    port, env = controlled
    env = {**env, "PYTHONIOENCODING": "cp1252"}
    done = doctor("--json", "--port", str(port), "--check", "encoding", env=env)
    assert done.returncode == 0
    assert json.loads(done.stdout)[0]["status"] == "Warning"


@pytest.mark.parametrize("columns", [None, "80", "200"])
def test_table_lists_every_check_and_truncates_nothing(controlled, columns):
    port, env = controlled
    env = dict(env)
    if columns:
        env["COLUMNS"] = columns
    else:
        env.pop("COLUMNS", None)
    done = doctor("--port", str(port), env=env)
    assert done.returncode == 0, done.stderr
    for name in SHELL_CHECKS:
        assert name in done.stdout, f"{name} missing from the table:\n{done.stdout}"
    # A cut-off path or command in Remediation is useless: cells wrap, they are never elided.
    assert "\u2026" not in done.stdout, done.stdout  # rich elides with U+2026
    assert "Traceback" not in done.stdout + done.stderr
    assert "skipped" in done.stdout.splitlines()[-1]  # the summary line


def test_worker_role(controlled):
    port, env = controlled
    done = doctor("--json", "--role", "worker", "--port", str(port), "--check", "port.available", env=env)
    assert json.loads(done.stdout)[0]["status"] == "Skipped"


@pytest.mark.parametrize(
    "args, says",
    [
        (["--port", "abc"], "invalid int value: 'abc'"),
        (["--port", "70000"], "params.port"),
        (["--port", "0"], "params.port"),
        (["--check", "nope"], "params.check"),
        (["--role", "admin"], "invalid choice"),
        (["--python", ""], "must not be empty"),
    ],
)
def test_invalid_arguments_exit_2_with_a_clear_message(args, says):
    done = doctor(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert says in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""


def test_invalid_argument_in_json_mode_is_json(free_port):
    done = doctor("--json", "--port", "70000")
    assert done.returncode == 2 and done.stderr == ""
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "InvalidRequest" and error["target"] == "params.port"
