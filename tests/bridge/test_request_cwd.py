"""The envelope's `cwd`: relative paths mean what they meant at the caller's prompt, while the
backend itself starts in a fixed folder where nothing can shadow its imports."""
from __future__ import annotations

import json
import subprocess
import sys


def rpc(request: dict, cwd: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc"],
        input=json.dumps(request).encode(),
        capture_output=True,
        cwd=cwd,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)


def test_relative_paths_resolve_against_the_request_cwd_not_the_process_cwd(tmp_path):
    caller, start = tmp_path / "caller", tmp_path / "start"
    caller.mkdir(), start.mkdir()
    request = {"protocol": 1, "command": "environment.test", "cwd": str(caller),
               "params": {"pythonPath": "missing-python", "check": ["python.found"]}}
    code, response = rpc(request, cwd=str(start))
    assert code == 0, response
    assert response["result"][0]["data"]["requestedPath"] == str(caller / "missing-python")


def test_a_stray_module_in_the_callers_folder_does_not_shadow_the_backend(tmp_path):
    caller, start = tmp_path / "caller", tmp_path / "start"
    caller.mkdir(), start.mkdir()
    (caller / "pydantic.py").write_text("raise SystemExit('shadowed')\n")
    code, response = rpc({"protocol": 1, "command": "module.version", "cwd": str(caller)}, cwd=str(start))
    assert code == 0 and response["ok"], response


def test_a_cwd_that_does_not_exist_is_an_invalid_request(tmp_path):
    code, response = rpc({"protocol": 1, "command": "module.version", "cwd": str(tmp_path / "gone")}, cwd=str(tmp_path))
    assert code == 2
    assert response["error"]["code"] == "InvalidRequest" and response["error"]["target"] == "cwd"


def test_a_stray_module_in_the_callers_folder_does_not_mislead_the_probes(tmp_path):
    # The target-interpreter probes run in the caller's folder (Prefect reads .env there), but
    # must import the real pydantic and json, not the caller's files.
    caller, start = tmp_path / "caller", tmp_path / "start"
    caller.mkdir(), start.mkdir()
    for name in ("pydantic.py", "json.py"):
        (caller / name).write_text("raise SystemExit('shadowed')\n")
    request = {"protocol": 1, "command": "environment.test", "cwd": str(caller), "params": {"check": ["prefect.installed", "settings.profile"]}}
    code, response = rpc(request, cwd=str(start))
    assert code == 0, response
    assert {r["check"]: r["status"] for r in response["result"]} == {"prefect.installed": "Pass", "settings.profile": "Pass"}
    code, response = rpc({"protocol": 1, "command": "setting.get", "cwd": str(caller), "params": {"name": ["PREFECT_SERVER_API_PORT"]}}, cwd=str(start))
    assert code == 0 and response["ok"], response
