"""Health that proves access, against a real `prefect server start` with
PREFECT_SERVER_API_AUTH_STRING set (one server for the module).

Prefect leaves /api/health and /api/ready open, so only the authenticated call (GET
/api/admin/version) shows whether a client's credentials work. Shown here with the real
backend and the real server: the diagnosis (`environment.test`, and Test-PrefectEnvironment
from real pwsh), service health (services/health.py) and the worker install's pre-flight give
Pass with the right PREFECT_API_AUTH_STRING and a Fail that names the authentication with a
wrong or missing one, and the auth string appears in none of their output. server.auth runs
against the real settings models of the cached target releases (tests/target_venvs.py).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from target_venvs import target_python

from fixtures.common import in_ci, unavailable
from prefectwin.errors import InvalidArgument
from prefectwin.events import Events
from prefectwin.services import health, validate
from prefectwin.services.state import ServiceRecord

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Okapi-Auth-3b9&:@/%q"
AUTH_STRING = f"admin:{PASSWORD}"
WRONG = "admin:not-the-password"
SECRETS = (PASSWORD, AUTH_STRING, json.dumps(AUTH_STRING)[1:-1])


@pytest.fixture(scope="module")
def auth_server(prefect_server_factory):
    return prefect_server_factory(PREFECT_SERVER_API_AUTH_STRING=AUTH_STRING)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"the auth string is shown: {text[:400]}"


def diagnose(run_rpc, env: dict, *checks: str, role: str = "Worker", **params):
    body = {"protocol": 1, "command": "environment.test", "params": {"role": role, "check": list(checks), **params}}
    result = run_rpc(body, env=env)
    assert result.code == 0, result.response
    assert_no_secret(result.stdout_text, result.stderr_text)
    return result.checks


# -- the diagnosis, through the real bridge -------------------------------------------------------
def test_health_passes_with_the_right_auth_string(run_rpc, auth_server):
    r = diagnose(run_rpc, {"PREFECT_API_URL": auth_server.api_url, "PREFECT_API_AUTH_STRING": AUTH_STRING}, "server.health", "server.version")
    health_result = r["server.health"]
    assert health_result["status"] == "Pass", f"{health_result}\n{auth_server.logtail()}"
    assert "accepts this client's PREFECT_API_AUTH_STRING" in health_result["message"]
    assert (health_result["data"]["auth"], health_result["data"]["accessStatus"]) == ("basic", 200)
    # The version endpoint is the authenticated one: with the string, the version is known.
    assert r["server.version"]["status"] == "Pass" and r["server.version"]["data"]["serverVersion"]


@pytest.mark.parametrize(
    ("client_env", "sent"),
    [({}, "sends no credentials"), ({"PREFECT_API_AUTH_STRING": WRONG}, "not the server's")],
    ids=["missing", "wrong"],
)
def test_missing_or_wrong_credentials_fail_naming_the_authentication(run_rpc, auth_server, client_env, sent):
    r = diagnose(run_rpc, {"PREFECT_API_URL": auth_server.api_url, **client_env}, "server.health")["server.health"]
    assert r["status"] == "Fail", r
    assert "requires authentication" in r["message"] and "HTTP 401" in r["message"] and sent in r["message"]
    assert "PREFECT_API_AUTH_STRING" in r["remediation"] and "PREFECT_SERVER_API_AUTH_STRING" in r["remediation"]
    # /health and /ready themselves answered: the failure is the authentication, nothing else.
    assert (r["data"]["health"], r["data"]["ready"], r["data"]["accessStatus"]) == (200, 200, 401)


def test_an_open_server_still_passes_without_credentials(run_rpc, prefect_server_factory):
    open_server = prefect_server_factory()
    r = diagnose(run_rpc, {"PREFECT_API_URL": open_server.api_url}, "server.health")["server.health"]
    assert r["status"] == "Pass" and r["data"]["accessStatus"] == 200 and "accepts" not in r["message"]


def _pwsh() -> str:
    found = shutil.which("pwsh")
    if found is None:
        if in_ci():
            pytest.fail("pwsh is not on PATH")
        unavailable("pwsh is not on PATH")
    return found


@pytest.mark.parametrize(
    ("client_env", "status"),
    [({"PREFECT_API_AUTH_STRING": AUTH_STRING}, "Pass"), ({"PREFECT_API_AUTH_STRING": WRONG}, "Fail"), ({}, "Fail")],
    ids=["right", "wrong", "missing"],
)
def test_test_prefectenvironment_from_pwsh(auth_server, tmp_path, client_env, status):
    """The real module in real pwsh, the real backend, the real server; every stream captured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECTWIN_PYTHON=sys.executable,
        PREFECT_HOME=str(tmp_path / "client-home"),
        PREFECT_API_URL=auth_server.api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        **client_env,
    )
    script = (
        f"Import-Module '{REPO / 'PrefectWin.psd1'}' -Force; "
        "$r = Test-PrefectEnvironment -Role Worker -Check server.health -Verbose -ErrorAction Continue 4>&1 3>&1 2>&1; "
        "$r | ForEach-Object { if ($_.PSObject.TypeNames -contains 'PrefectWin.CheckResult') { 'RESULT ' + ($_ | Select-Object Check, Status, Message, Remediation | ConvertTo-Json -Compress) } else { 'OTHER ' + $_ } }"
    )
    done = subprocess.run([_pwsh(), "-NoProfile", "-NonInteractive", "-Command", script], env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert_no_secret(done.stdout, done.stderr)
    results = [json.loads(line[len("RESULT ") :]) for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert [(r["Check"], r["Status"]) for r in results] == [("server.health", status)], done.stdout
    if status == "Fail":
        assert "requires authentication" in results[0]["Message"] and "PREFECT_API_AUTH_STRING" in results[0]["Remediation"]


# -- service health (Get-PrefectService, Wait-PrefectService) --------------------------------------
def test_server_health_proves_the_service_s_credentials(auth_server):
    assert health.server_health(auth_server.api_url, AUTH_STRING)[0] == "Healthy"
    state, detail = health.server_health(auth_server.api_url)
    assert state == "Unhealthy" and "requires authentication (HTTP 401)" in detail
    state, detail = health.server_health(auth_server.api_url, WRONG)
    assert state == "Unhealthy" and "authentication failed" in detail
    assert_no_secret(detail)


def test_worker_health_asks_with_the_worker_s_credentials(auth_server):
    state, detail, _ = health.worker_health(auth_server.api_url, "no-such-pool", "w@BOX", None)
    assert state == "Unhealthy" and "requires authentication (HTTP 401)" in detail
    state, detail, _ = health.worker_health(auth_server.api_url, "no-such-pool", "w@BOX", None, AUTH_STRING)
    # Authenticated, the server answers; this worker has simply never sent a heartbeat.
    assert "401" not in detail and ("has not sent a heartbeat" in detail or "404" in detail), detail


def test_describe_reads_the_credentials_where_the_service_reads_them(auth_server, tmp_path):
    marker = json.dumps({"managedBy": "PrefectWin", "format": 1, "role": "Server", "apiUrl": auth_server.api_url, "port": auth_server.port})
    in_nssm = ServiceRecord(name="S1", status="Running", pid=1, parameters={"AppEnvironmentExtra": (f"PREFECT_API_AUTH_STRING={AUTH_STRING}",)}, marker=marker)
    assert health.describe(in_nssm).health == "Healthy"
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / ".env").write_text(f"PREFECT_API_AUTH_STRING='{AUTH_STRING}'\n", encoding="utf-8")
    in_env_file = ServiceRecord(name="S2", status="Running", pid=1, parameters={"AppDirectory": (str(folder),)}, marker=marker)
    assert health.describe(in_env_file).health == "Healthy"
    without = ServiceRecord(name="S3", status="Running", pid=1, parameters={}, marker=marker)
    info = health.describe(without)
    assert info.health == "Unhealthy" and "requires authentication" in info.health_detail
    assert_no_secret(info.model_dump_json())


# -- the worker install's pre-flight ----------------------------------------------------------------
def _worker_spec(api_url: str, credential=None):
    from prefectwin.commands.service import ServiceInstallParams
    from prefectwin.services.spec import build_spec

    params = ServiceInstallParams(name="PrefectWorker", role="Worker", pool="etl", api_url=api_url, auth_credential=credential)
    return build_spec(params, python=sys.executable, default_home="/var/lib/prefect", host="BOX1", flavor="posix")


def test_a_worker_whose_server_refuses_it_is_refused_before_install(auth_server):
    for credential, words in ((None, "would send none"), ({"userName": "admin", "password": "nope"}, "authentication failed")):
        with pytest.raises(InvalidArgument) as refused:
            validate.check_worker_access(_worker_spec(auth_server.api_url, credential), Events(open(os.devnull, "w")))
        assert refused.value.target == "AuthCredential" and words in refused.value.message
        assert_no_secret(refused.value.message, refused.value.remediation)
    validate.check_worker_access(_worker_spec(auth_server.api_url, {"userName": "admin", "password": PASSWORD}), Events(open(os.devnull, "w")))


def test_a_worker_whose_server_is_not_up_yet_is_not_refused(free_port):
    validate.check_worker_access(_worker_spec(f"http://127.0.0.1:{free_port()}/api"), Events(open(os.devnull, "w")))


# -- server.auth on each release's real settings model ------------------------------------------------
@pytest.mark.parametrize("release", ["3.1.15", "3.4.25", "3.9.1"])
def test_server_auth_on_real_releases(run_rpc, release, tmp_path):
    python = target_python(release)
    base = {"PREFECT_HOME": str(tmp_path / release), "PREFECT_SERVER_API_HOST": "0.0.0.0"}
    open_server = diagnose(run_rpc, base, "server.auth", role="Server", pythonPath=str(python))["server.auth"]
    assert open_server["status"] == "Fail" and "without PREFECT_SERVER_API_AUTH_STRING" in open_server["message"], open_server
    protected = diagnose(run_rpc, {**base, "PREFECT_SERVER_API_AUTH_STRING": AUTH_STRING}, "server.auth", role="Server", pythonPath=str(python))["server.auth"]
    assert protected["status"] == "Pass" and protected["data"]["authRequired"] is True, protected
    local = diagnose(run_rpc, {**base, "PREFECT_SERVER_API_HOST": "127.0.0.1"}, "server.auth", role="Server", pythonPath=str(python))["server.auth"]
    assert local["status"] == "Pass"


def test_server_auth_names_the_release_to_upgrade_to_where_there_is_no_auth(run_rpc, tmp_path):
    python = target_python("3.0.11")
    r = diagnose(run_rpc, {"PREFECT_HOME": str(tmp_path / "h"), "PREFECT_SERVER_API_HOST": "0.0.0.0"}, "server.auth", role="Server", pythonPath=str(python))["server.auth"]
    assert r["status"] == "Fail" and "cannot require authentication" in r["message"], r
    assert "3.1.15" in r["remediation"]


def test_a_worker_left_behind_by_a_rotation_is_told_so_and_how_to_fix_it(auth_server, tmp_path):
    """The server of this computer now requires AUTH_STRING (it was rotated); its worker still
    sends the old string, or none. The real server refuses the worker's heartbeat query with
    401, and Get-PrefectService's health says why and what to run."""
    from fakes.services import FakeServiceAdapter

    adapter = FakeServiceAdapter()
    server_file, worker_file = str(tmp_path / "PrefectServer.secrets.toml"), str(tmp_path / "PrefectWorker.secrets.toml")
    adapter.secret_files[server_file] = f'active = "prefectwin"\n[profiles.prefectwin]\nPREFECT_SERVER_API_AUTH_STRING = "{AUTH_STRING}"\n'
    server_marker = {"managedBy": "PrefectWin", "format": 1, "role": "Server", "apiUrl": auth_server.api_url, "port": auth_server.port}
    adapter.services["prefectserver"] = _fake_service(
        "PrefectServer", server_marker, (f"PREFECT_PROFILES_PATH={server_file}",)
    )
    worker_marker = {"managedBy": "PrefectWin", "format": 1, "role": "Worker", "apiUrl": auth_server.api_url, "pool": "etl", "workerName": "PrefectWorker@BOX1", "authFrom": "PrefectServer"}
    worker = ServiceRecord(
        name="PrefectWorker", status="Running", pid=2, marker=json.dumps(worker_marker), parameters={"AppEnvironmentExtra": (f"PREFECT_PROFILES_PATH={worker_file}",)}
    )
    for held, words in ((f'PREFECT_API_AUTH_STRING = "{WRONG}"\n', "sends an auth string that is not the one"), ("", "sends no auth string")):
        adapter.secret_files[worker_file] = f'active = "prefectwin"\n[profiles.prefectwin]\n{held}'
        [info] = health.describe_all([worker], adapter=adapter)
        assert info.health == "Unhealthy" and "HTTP 401" in info.health_detail, info
        assert words in info.health_detail and "server 'PrefectServer' of this computer" in info.health_detail, info.health_detail
        assert "auth was changed" in info.health_detail and "Install-PrefectService -Name PrefectWorker -Role Worker -Pool etl" in info.health_detail
        assert_no_secret(info.model_dump_json())
    # Sending the server's string, the refusal (none here) needs no such explanation.
    adapter.secret_files[worker_file] = f'active = "prefectwin"\n[profiles.prefectwin]\nPREFECT_API_AUTH_STRING = "{AUTH_STRING}"\n'
    [info] = health.describe_all([worker], adapter=adapter)
    assert "401" not in (info.health_detail or "") and "auth was changed" not in (info.health_detail or ""), info


def _fake_service(name: str, marker: dict, environment: tuple[str, ...]):
    from fakes.services import FakeService

    return FakeService(name=name, status="Running", pid=1, parameters={"Application": ("/usr/bin/python3",), "AppEnvironmentExtra": environment}, marker=json.dumps(marker))
