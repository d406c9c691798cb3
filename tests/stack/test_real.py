"""Install-PrefectStack for real on Linux, once per module: the real backend process, a real venv
made from this Python's base interpreter, a real pip install of the pinned Prefect from the
wheelhouse (the caller's PIP_NO_INDEX and PIP_FIND_LINKS, passed through), a real server and
worker started by the POSIX stand-in for the SCM behind basic auth, the health wait, the
diagnosis green, and a second run whose plan is empty.

What only Windows has (NSSM, the Service Control Manager, virtual accounts, ACLs, the
firewall) the stand-in keeps as records; tests/stack/test_apply.py covers those steps against
the recording fake. The expensive install runs once, in the module fixture.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fixtures.common import find_free_port
from fixtures.rpc import rpc_call
from target_venvs import WHEELHOUSE

pytestmark = pytest.mark.skipif(sys.platform == "win32" or not WHEELHOUSE.is_dir(), reason="the POSIX stand-in and the wheelhouse")

AUTH_USER, AUTH_PASSWORD = "admin", "Bilby-Stack-3d9!:@"
INSTALL_TIMEOUT_SEC = 600


def _request(params: dict) -> dict:
    return {"protocol": 1, "command": "stack.install", "params": params}


def _status(url: str, authorization: str = "") -> int:
    request = urllib.request.Request(url, headers={"Authorization": authorization} if authorization else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Two runs of the same Install-PrefectStack: (params, env, first answer, second answer)."""
    from prefectwin.system.posix_standin import StandInServices

    work = tmp_path_factory.mktemp("stack")
    root = work / "services"
    finds = " ".join(p for p in (str(WHEELHOUSE), os.environ.get("PIP_FIND_LINKS")) if p)
    env = {
        "PREFECTWIN_POSIX_SERVICE_ROOT": str(root),
        "PREFECTWIN_DATA_DIR": str(work / "data"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": finds,
        # The caller's pip configuration reaches the venv's pip; skipping the .pyc compilation
        # saves this suite about a third of the install (bench/stack.py measures it with).
        "PIP_NO_COMPILE": "1",
    }
    params = {
        "pythonPath": sys.executable,
        "prefectHome": str(work / "home"),
        "port": find_free_port(),
        "authCredential": {"userName": AUTH_USER, "password": AUTH_PASSWORD},
        "pool": "stack-test",
        "timeoutSec": 240,
    }
    try:
        first = rpc_call(_request(params), env, timeout=INSTALL_TIMEOUT_SEC, cwd=work)
        second = rpc_call(_request(params), env, timeout=INSTALL_TIMEOUT_SEC, cwd=work) if first.response.get("ok") else None
        yield params, env, first, second, root
    finally:
        services = StandInServices(str(root))
        for name in ("PrefectWorker", "PrefectServer"):
            if services.read_service(name) is not None:
                services.stop_service(name, 30)


def test_the_first_run_installs_everything_and_is_green(stack):
    params, _, first, _, _ = stack
    assert first.code == 0, first.response
    result = first.response["result"]
    kinds = [a["kind"] for a in result["actions"]]
    assert kinds[:2] == ["create-venv", "install-prefect"] and kinds[-1] == "wait-healthy"
    assert "install-nssm" not in kinds  # the stand-in needs no NSSM
    assert result["green"] is True, result["problems"]
    assert [(s["name"], s["health"]) for s in result["services"]] == [("PrefectServer", "Healthy"), ("PrefectWorker", "Healthy")]
    diagnosed = {r["service"] for r in result["diagnosis"]}
    assert diagnosed == {"PrefectServer", "PrefectWorker"}
    assert not [r for r in result["diagnosis"] if r["status"] == "Fail"]
    phases = {p["name"]: p["seconds"] for p in result["phases"]}
    assert phases["interpreter"] > 1 and phases["health"] > 0 and phases["diagnosis"] > 0
    assert result["totalSeconds"] >= phases["interpreter"] + phases["services"] + phases["health"]


def test_the_venv_is_real_and_has_the_pinned_prefect(stack):
    _, _, first, _, _ = stack
    result = first.response["result"]
    venv = Path(result["venvPath"])
    assert (venv / "pyvenv.cfg").is_file() and result["pythonPath"] == str(venv / "bin" / "python")
    # The oracle: the venv's own metadata, read by the venv's own interpreter.
    done = subprocess.run([result["pythonPath"], "-c", "import importlib.metadata as m; print(m.version('prefect'))"], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == result["prefectVersion"] == "3.9.1"


def test_the_server_requires_the_auth_the_worker_sends(stack):
    params, _, first, _, _ = stack
    api = first.response["result"]["services"][0]["apiUrl"]
    token = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
    assert _status(f"{api}/admin/version") == 401
    assert _status(f"{api}/admin/version", f"Basic {token}") == 200
    worker = first.response["result"]["services"][1]
    assert worker["pool"] == "stack-test" and worker["health"] == "Healthy"  # its heartbeat passed the auth


def test_no_secret_appears_in_any_answer_or_event(stack):
    _, _, first, second, _ = stack
    for run in (first, second):
        assert AUTH_PASSWORD not in run.stdout_text + run.stderr_text


def test_the_second_run_changes_nothing_and_still_reports_health_and_diagnosis(stack):
    _, _, _, second, root = stack
    assert second is not None and second.code == 0, second.response if second else None
    result = second.response["result"]
    assert result["actions"] == [] and result["changed"] is False
    assert result["green"] is True and all(s["health"] == "Healthy" for s in result["services"])
    assert result["diagnosis"]
    # Nothing was restarted: each service started once, in the first run.
    events = [json.loads(line) for line in (root / "history.jsonl").read_text().splitlines()]
    assert [(e["service"], e["event"]) for e in events] == [("PrefectServer", "started"), ("PrefectWorker", "started")]
