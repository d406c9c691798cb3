"""Install-PrefectService's server auth (-AuthCredential, -AllowAnonymous) through the real
request handler, in-process, with the stateful fake adapter standing in for Windows.

What is shown: the shapes of the spec (both auth strings of a server and the worker's client
string land in secret_environment, and nowhere else), the non-loopback rule, where a worker's
string comes from, and that the auth string and its password appear in no answer, plan,
ShouldProcess description, event or error. The real server's side is tests/test_server_auth.py.
"""
from __future__ import annotations

import io
import json
from typing import Any, Optional

import pytest
from pydantic import SecretStr

from prefectwin.commands.service import ServiceInstallParams
from prefectwin.errors import InvalidArgument
from prefectwin.events import Events
from prefectwin.rpc import handle
from prefectwin.services import auth
from prefectwin.services.spec import build_spec

AUTH_PASSWORD = "Narwhal-Auth-4c2&:@/%z"
OTHER_PASSWORD = "Ibex-Other-8d1;="
CREDENTIAL = {"userName": "admin", "password": AUTH_PASSWORD}
SECRETS = (AUTH_PASSWORD, f"admin:{AUTH_PASSWORD}", OTHER_PASSWORD, json.dumps(AUTH_PASSWORD)[1:-1])


@pytest.fixture
def adapter(service_adapter):
    return service_adapter


def call(command: str, params: dict, what_if: bool = False) -> tuple[dict, str]:
    stream = io.StringIO()
    response, _ = handle(json.dumps({"protocol": 1, "command": command, "params": params, "whatIf": what_if}).encode(), Events(stream))
    return response, stream.getvalue()


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"a secret is shown: {text[:400]}"


def server(tmp_path, free_port, **extra) -> dict:
    return {"name": "PrefectServer", "role": "Server", "prefectHome": str(tmp_path / "home"), "port": free_port(), **extra}


def environment(adapter, name: str) -> dict[str, str]:
    """What the service's Prefect sees: its NSSM environment and the secrets file it names."""
    from prefectwin.services.secrets_file import file_values

    entries = adapter.services[name.lower()].parameters["AppEnvironmentExtra"]
    env = dict(entry.partition("=")[::2] for entry in entries)
    secrets = adapter.secret_files.get(env.get("PREFECT_PROFILES_PATH", ""))
    return {**(file_values(secrets) if secrets is not None else {}), **env}


def spec_of(**values: Any):
    values.setdefault("name", "PrefectServer")
    values.setdefault("role", "Server")
    return build_spec(ServiceInstallParams(**values), python="/usr/bin/python3", default_home="/var/lib/prefect", host="BOX1", flavor="posix")


# -- the spec's shape (pure) ----------------------------------------------------------------------
def test_a_server_with_a_credential_gets_both_auth_strings_as_secrets_only():
    spec = spec_of(bind_address="0.0.0.0", auth_credential=CREDENTIAL)
    assert set(spec.secret_environment) >= {auth.SERVER_AUTH_KEY, auth.CLIENT_AUTH_KEY}
    assert all(isinstance(v, SecretStr) for v in spec.secret_environment.values())
    assert spec.secret_environment[auth.SERVER_AUTH_KEY].get_secret_value() == f"admin:{AUTH_PASSWORD}"
    assert spec.secret_environment[auth.CLIENT_AUTH_KEY] == spec.secret_environment[auth.SERVER_AUTH_KEY]
    assert not set(spec.environment) & set(auth.AUTH_KEYS)
    assert_no_secret(json.dumps(spec.environment), spec.marker(), repr(spec), str(spec.nssm_parameters()))


@pytest.mark.parametrize("bind", ["0.0.0.0", "::", "10.1.2.3", "prefect01.corp.example"])
def test_a_reachable_server_without_a_credential_is_refused_naming_the_parameter(bind):
    with pytest.raises(InvalidArgument) as refused:
        spec_of(bind_address=bind)
    assert refused.value.target == "AuthCredential"
    assert bind in refused.value.message and "deployments whose code the workers run" in refused.value.message
    assert "-AuthCredential" in refused.value.remediation and "-AllowAnonymous" in refused.value.remediation


@pytest.mark.parametrize("bind", [None, "127.0.0.1", "localhost", "::1", "127.0.0.5"])
def test_a_loopback_server_needs_no_credential(bind):
    spec = spec_of(**({"bind_address": bind} if bind else {}))
    assert not set(spec.secret_environment) & set(auth.AUTH_KEYS)
    assert auth.exposure_warning(spec) is None


def test_allow_anonymous_builds_an_open_server_and_a_warning_says_what_it_exposes():
    spec = spec_of(bind_address="0.0.0.0", allow_anonymous=True)
    assert not set(spec.secret_environment) & set(auth.AUTH_KEYS)
    warning = auth.exposure_warning(spec)
    assert warning and "without authentication" in warning and "deployments whose code" in warning and "0.0.0.0" in warning


@pytest.mark.parametrize(
    ("values", "target", "words"),
    [
        ({"bind_address": "0.0.0.0", "allow_anonymous": True, "auth_credential": CREDENTIAL}, "AllowAnonymous", "contradict"),
        ({"role": "Worker", "pool": "etl", "allow_anonymous": True}, "AllowAnonymous", "servers only"),
        ({"auth_credential": {"userName": "ad:min", "password": AUTH_PASSWORD}}, "AuthCredential", "':'"),
        ({"auth_credential": {"password": AUTH_PASSWORD}}, "AuthCredential", "no user name"),
        ({"auth_credential": {"userName": "admin", "password": ""}}, "AuthCredential", "empty password"),
        ({"auth_credential": {"userName": "admin", "password": AUTH_PASSWORD + "\n"}}, "AuthCredential", "line-break"),
        ({"environment": {"PREFECT_API_AUTH_STRING": f"admin:{AUTH_PASSWORD}"}}, "Environment", "-AuthCredential"),
        ({"environment": {"prefect_server_api_auth_string": f"admin:{AUTH_PASSWORD}"}}, "Environment", "-AuthCredential"),
    ],
)
def test_bad_auth_input_is_refused_naming_the_parameter_and_never_the_secret(values, target, words):
    with pytest.raises(InvalidArgument) as refused:
        spec_of(**values)
    error = refused.value
    assert error.target == target and words in error.message + (error.remediation or ""), (error.target, error.message)
    assert_no_secret(error.message, error.remediation or "")


def test_a_password_nssm_would_expand_is_fine_because_it_goes_to_the_secrets_file_not_to_nssm():
    spec = spec_of(auth_credential={"userName": "admin", "password": "p%USERNAME%"})
    assert spec.secret_environment[auth.SERVER_AUTH_KEY].get_secret_value() == "admin:p%USERNAME%"
    assert not any("%USERNAME%" in f"{key}={value}" for key, value in spec.nssm_environment().items())


def test_a_worker_sends_its_own_credential_or_its_local_server_s_string():
    server_string = SecretStr(f"admin:{AUTH_PASSWORD}")
    local = ("PrefectServer", "http://127.0.0.1:4200/api")
    worker = dict(name="PrefectWorker", role="Worker", pool="etl")
    inherited = spec_of(**worker)
    assert auth.CLIENT_AUTH_KEY not in inherited.secret_environment
    from_server = build_spec(ServiceInstallParams(**worker), python="/usr/bin/python3", default_home="/h", host="B", flavor="posix", local_server=local, local_server_auth=server_string)
    assert from_server.secret_environment[auth.CLIENT_AUTH_KEY] == server_string
    assert auth.SERVER_AUTH_KEY not in from_server.secret_environment
    own = build_spec(
        ServiceInstallParams(**worker, auth_credential={"userName": "etl", "password": OTHER_PASSWORD}),
        python="/usr/bin/python3", default_home="/h", host="B", flavor="posix", local_server=local, local_server_auth=server_string,
    )
    assert own.secret_environment[auth.CLIENT_AUTH_KEY].get_secret_value() == f"etl:{OTHER_PASSWORD}"
    remote = spec_of(**worker, api_url="http://prefect01:4200/api")
    assert auth.CLIENT_AUTH_KEY not in remote.secret_environment


# -- through service.install, with the fake adapter -----------------------------------------------
def test_an_open_non_loopback_server_is_refused_before_anything_changes(adapter, tmp_path, free_port):
    for what_if in (True, False):
        response, events = call("service.install", server(tmp_path, free_port, bindAddress="0.0.0.0"), what_if=what_if)
        assert not response["ok"] and (response["error"]["code"], response["error"]["target"]) == ("InvalidArgument", "AuthCredential")
    assert adapter.changing_calls() == []


def test_allow_anonymous_installs_with_a_warning(adapter, tmp_path, free_port):
    response, events = call("service.install", server(tmp_path, free_port, bindAddress="0.0.0.0", allowAnonymous=True), what_if=True)
    assert response["ok"], response
    warnings = [json.loads(line)["message"] for line in events.splitlines() if json.loads(line).get("level") == "warning"]
    assert any("without authentication" in w and "deployments whose code" in w for w in warnings), warnings


def test_the_auth_string_reaches_the_service_and_no_output(adapter, tmp_path, free_port):
    params = server(tmp_path, free_port, bindAddress="0.0.0.0", authCredential=CREDENTIAL, start=True, passThru=True)
    plan, plan_events = call("service.install", params, what_if=True)
    assert plan["ok"], plan
    descriptions = [a["description"] for a in plan["result"]["actions"]]
    # Named in the secrets file's action, never with its value.
    assert any("secrets file" in d and "PREFECT_SERVER_API_AUTH_STRING" in d for d in descriptions), descriptions
    applied, applied_events = call("service.install", params)
    assert applied["ok"], applied
    env = environment(adapter, "PrefectServer")
    assert env[auth.SERVER_AUTH_KEY] == env[auth.CLIENT_AUTH_KEY] == f"admin:{AUTH_PASSWORD}"
    assert_no_secret(json.dumps(plan, ensure_ascii=False), plan_events, json.dumps(applied, ensure_ascii=False), applied_events)
    # An install again with the same credential is in the desired state; another one is a change.
    again, _ = call("service.install", params, what_if=True)
    assert again["result"]["actions"] == []
    rotated, rotated_events = call("service.install", {**params, "authCredential": {"userName": "admin", "password": OTHER_PASSWORD}}, what_if=True)
    assert [a["kind"] for a in rotated["result"]["actions"]][:1] == ["write-secrets-file"], rotated["result"]["actions"]
    assert_no_secret(json.dumps(rotated, ensure_ascii=False), rotated_events)


def test_a_worker_on_the_same_computer_gets_its_server_s_string(adapter, tmp_path, free_port):
    home = str(tmp_path / "home")
    assert call("service.install", server(tmp_path, free_port, bindAddress="0.0.0.0", authCredential=CREDENTIAL))[0]["ok"]
    response, events = call("service.install", {"name": "PrefectWorker", "role": "Worker", "pool": "etl", "prefectHome": home})
    assert response["ok"], response
    worker = environment(adapter, "PrefectWorker")
    assert worker[auth.CLIENT_AUTH_KEY] == f"admin:{AUTH_PASSWORD}" and auth.SERVER_AUTH_KEY not in worker
    assert_no_secret(json.dumps(response, ensure_ascii=False), events)


def test_a_worker_reads_its_server_s_string_from_the_server_s_env_file_too(adapter, tmp_path):
    """Where secret_environment is delivered in a .env of the working folder, not in NSSM."""
    from prefectwin.services.state import ServiceRecord

    folder = tmp_path / "server-home"
    folder.mkdir()
    (folder / ".env").write_text(f'PREFECT_SERVER_API_AUTH_STRING="admin:{AUTH_PASSWORD}"\n', encoding="utf-8")
    record = ServiceRecord(name="PrefectServer", parameters={"AppDirectory": (str(folder),), "AppEnvironmentExtra": ("PREFECT_HOME=/x",)})
    assert auth.service_secret(record, auth.SERVER_AUTH_KEY, None).get_secret_value() == f"admin:{AUTH_PASSWORD}"
    assert auth.service_secret(record, auth.CLIENT_AUTH_KEY, None) is None


def test_a_worker_s_api_key_from_environment_is_what_the_pre_flight_sends(free_port):
    """An API key given in -Environment is kept with the secrets (not in NSSM's environment):
    the install's one authenticated call must still send it, as the worker will."""
    import http.server
    import threading

    from prefectwin.services import validate

    key = "pnu_Quokka-Key-7a1"
    seen: list[Optional[str]] = []

    class KeyOnly(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append(self.headers.get("Authorization"))
            self.send_response(200 if self.headers.get("Authorization") == f"Bearer {key}" else 401)
            self.end_headers()

        def log_message(self, *args):  # keep the test output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), KeyOnly)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api"
        spec = spec_of(name="PrefectWorker", role="Worker", pool="etl", api_url=url, environment={"PREFECT_API_KEY": key})
        assert "PREFECT_API_KEY" in spec.secret_environment and "PREFECT_API_KEY" not in spec.environment
        validate.check_worker_access(spec, Events(io.StringIO()))
        assert seen == [f"Bearer {key}"]
        wrong = spec_of(name="PrefectWorker", role="Worker", pool="etl", api_url=url, environment={"PREFECT_API_KEY": "pnu_wrong"})
        with pytest.raises(InvalidArgument):
            validate.check_worker_access(wrong, Events(io.StringIO()))
    finally:
        server.shutdown()
        server.server_close()


# -- a secrets file this session may not read (a PowerShell that is not elevated) ----------------
def test_a_worker_install_is_refused_when_the_server_s_secrets_file_cannot_be_read(adapter, tmp_path, free_port):
    from prefectwin.errors import PermissionDenied

    assert call("service.install", server(tmp_path, free_port, bindAddress="0.0.0.0", authCredential=CREDENTIAL))[0]["ok"]
    [path] = adapter.secret_files
    adapter.fail_on["read_restricted_file"] = PermissionDenied("Access to the path is denied.")
    worker = {"name": "PrefectWorker", "role": "Worker", "pool": "etl", "prefectHome": str(tmp_path / "home")}
    for what_if in (True, False):
        response, events = call("service.install", worker, what_if=what_if)
        error = response["error"]
        # Not a worker planned as if the server had no auth: it would be refused with 401s.
        assert error["code"] == "PermissionDenied" and error["target"] == path, error
        assert "PrefectServer" in error["message"] and "administrator" in error["remediation"]
        assert_no_secret(json.dumps(response, ensure_ascii=False), events)
    assert "prefectworker" not in adapter.services


def _server_record(secrets_path: str) -> Any:
    from prefectwin.services.state import ServiceRecord

    marker = {"managedBy": "PrefectWin", "role": "Server", "apiUrl": "http://127.0.0.1:9/api"}
    return ServiceRecord(
        name="PrefectServer", status="Running", pid=10, marker=json.dumps(marker),
        parameters={"Application": ("C:\\py\\python.exe",), "AppEnvironmentExtra": (f"PREFECT_PROFILES_PATH={secrets_path}",)},
    )


def test_health_is_unknown_not_unauthenticated_when_the_secrets_file_cannot_be_read(adapter, monkeypatch):
    from prefectwin.errors import PermissionDenied
    from prefectwin.services import health

    path = "C:\\ProgramData\\Prefect\\PrefectServer.secrets.toml"
    asked: list[tuple] = []
    monkeypatch.setattr(health, "server_health", lambda *args: asked.append(args) or ("Unhealthy", "the service sends no credentials (no PREFECT_API_AUTH_STRING)"))
    adapter.secret_files[path] = f'active = "prefectwin"\n[profiles.prefectwin]\nPREFECT_API_AUTH_STRING = "admin:{AUTH_PASSWORD}"\n'
    for denial in (PermissionDenied("denied"), PermissionError(13, "Access is denied")):
        asked.clear()
        adapter.fail_on["read_restricted_file"] = denial
        [info] = health.describe_all([_server_record(path)], adapter=adapter)
        assert info.health == "Unknown", info
        assert path in info.health_detail and "administrator" in info.health_detail
        assert "PREFECT_API_AUTH_STRING" not in info.health_detail and asked == []
    # Readable: Get-PrefectService's check sends the string the file holds.
    del adapter.fail_on["read_restricted_file"]
    [info] = health.describe_all([_server_record(path)], adapter=adapter)
    assert asked == [("http://127.0.0.1:9/api", f"admin:{AUTH_PASSWORD}", None)]
