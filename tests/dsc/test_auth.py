"""PrefectService's auth properties (AuthCredential, AuthStringVariable, AllowAnonymous) through
dsc.test / dsc.set on the stateful fake service adapter, and the DSC v3 command line, which
takes the auth string by reference only. No auth string or password in any answer or event.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes.config import call


REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Tapir-Dsc-6e4&:@/%w"
AUTH_STRING = f"admin:{PASSWORD}"


@pytest.fixture
def services(dsc_service_adapter):
    return dsc_service_adapter


def dsc(verb: str, **properties: Any) -> tuple[dict, int, list[dict]]:
    answer = call(f"dsc.{verb}", {"resource": "PrefectService", "properties": properties})
    shown = json.dumps(answer[0], ensure_ascii=False) + json.dumps(answer[2], ensure_ascii=False)
    assert PASSWORD not in shown and AUTH_STRING not in shown
    return answer


def server(tmp_path, free_port, **extra) -> dict:
    return {"Name": "PrefectServer", "Role": "Server", "PrefectHome": str(tmp_path / "home"), "Port": free_port(), "BindAddress": "0.0.0.0", **extra}


def environment(services) -> dict[str, str]:
    """What the server's Prefect sees: its NSSM environment and the secrets file it names."""
    from prefectwin.services.secrets_file import file_values

    env = dict(e.partition("=")[::2] for e in services.services["prefectserver"].parameters["AppEnvironmentExtra"])
    secrets = services.secret_files.get(env.get("PREFECT_PROFILES_PATH", ""))
    return {**(file_values(secrets) if secrets is not None else {}), **env}


def test_an_open_reachable_server_is_refused_and_nothing_changes(services, tmp_path, free_port):
    response, _, _ = dsc("set", **server(tmp_path, free_port))
    assert not response["ok"] and response["error"]["target"] == "AuthCredential"
    assert services.changing_calls() == []


def test_auth_credential_is_installed_as_the_server_s_auth_string(services, tmp_path, free_port):
    desired = server(tmp_path, free_port, AuthCredential={"UserName": "admin", "Password": PASSWORD})
    response, _, _ = dsc("set", **desired)
    assert response["ok"] and response["result"]["changed"], response
    env = environment(services)
    assert env["PREFECT_SERVER_API_AUTH_STRING"] == env["PREFECT_API_AUTH_STRING"] == AUTH_STRING
    tested, _, _ = dsc("test", **desired)
    assert tested["result"]["inDesiredState"] is True
    other, _, _ = dsc("test", **{**desired, "AuthCredential": {"UserName": "admin", "Password": "rotated-" + PASSWORD[:4]}})
    assert other["result"]["inDesiredState"] is False and "authCredential" in other["result"]["differingProperties"]


def test_auth_string_variable_is_read_from_the_machine_environment(services, tmp_path, free_port):
    desired = server(tmp_path, free_port, AuthStringVariable="PREFECT_AUTH")
    response, _, _ = dsc("test", **desired)
    assert response["error"]["target"] == "properties.authStringVariable" and "not set" in response["error"]["message"]
    services.machine["PREFECT_AUTH"] = "no-colon-" + PASSWORD.replace(":", "")
    response, _, _ = dsc("test", **desired)
    assert response["error"]["target"] == "properties.authStringVariable" and "USER:PASSWORD" in response["error"]["message"]
    services.machine["PREFECT_AUTH"] = AUTH_STRING
    response, _, _ = dsc("set", **desired)
    assert response["ok"], response
    assert environment(services)["PREFECT_SERVER_API_AUTH_STRING"] == AUTH_STRING
    both, _, _ = dsc("test", **desired, AuthCredential={"UserName": "admin", "Password": PASSWORD})
    assert both["error"]["target"] == "properties.authStringVariable" and "both" in both["error"]["message"]
    assert services.changing_calls()  # the set above, and nothing since the refusals


def test_allow_anonymous_installs_with_a_warning(services, tmp_path, free_port):
    response, _, events = dsc("set", **server(tmp_path, free_port, AllowAnonymous=True))
    assert response["ok"], response
    assert "PREFECT_SERVER_API_AUTH_STRING" not in environment(services)
    assert any(e.get("level") == "warning" and "without authentication" in e["message"] for e in events), events


def test_dsc_v3_takes_the_auth_string_by_reference_only():
    """The v3 command line refuses an inline AuthCredential before anything else (on any OS)."""
    manifest = json.loads((REPO / "dsc" / "PrefectWin.Service.dsc.resource.json").read_text(encoding="utf-8"))
    method = manifest["set"]
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    instance = {"name": "PrefectServer", "role": "Server", "bindAddress": "0.0.0.0", "authCredential": {"userName": "admin", "password": PASSWORD}}
    done = subprocess.run([method["executable"], *method["args"]], input=json.dumps(instance).encode(), capture_output=True, env=env, timeout=120)
    assert done.returncode == 1 and done.stdout == b""
    stderr = done.stderr.decode("utf-8")
    assert PASSWORD not in stderr and "AuthStringVariable" in json.loads(stderr.splitlines()[-1])["error"]
    schema = manifest["schema"]["embedded"]["properties"]
    assert {"authCredential", "authStringVariable", "allowAnonymous"} <= set(schema)


def test_a_dsc_rotation_carries_the_new_string_to_the_local_worker(services, tmp_path, free_port):
    """DSC drives the same install: a new AuthCredential reaches the worker that took the
    server's string, and Test is false until it has (a worker left behind is drift)."""
    from prefectwin.services.secrets_file import file_values

    other = "Civet-Dsc-2b8;="
    desired = server(tmp_path, free_port, AuthCredential={"UserName": "admin", "Password": PASSWORD})
    assert dsc("set", **desired)[0]["ok"]
    worker = {"Name": "PrefectWorker", "Role": "Worker", "Pool": "etl", "PrefectHome": str(tmp_path / "home")}
    assert dsc("set", **worker)[0]["ok"]

    def worker_sends() -> str:
        env = dict(e.partition("=")[::2] for e in services.services["prefectworker"].parameters["AppEnvironmentExtra"])
        return file_values(services.secret_files[env["PREFECT_PROFILES_PATH"]])["PREFECT_API_AUTH_STRING"]

    rotated = {**desired, "AuthCredential": {"UserName": "admin", "Password": other}}
    assert dsc("test", **rotated)[0]["result"]["inDesiredState"] is False
    response, _, _ = dsc("set", **rotated)
    assert response["ok"], response
    assert worker_sends() == f"admin:{other}" and other not in json.dumps(response)
    assert dsc("test", **rotated)[0]["result"]["inDesiredState"] is True
    # The worker's file put back by hand to the old string: the server's Test sees the drift.
    path = next(p for p in services.secret_files if p.endswith("PrefectWorker.secrets.toml"))
    services.secret_files[path] = services.secret_files[path].replace(other, PASSWORD)
    assert dsc("test", **rotated)[0]["result"]["inDesiredState"] is False
