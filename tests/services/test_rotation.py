"""Rotating a server's auth reaches the workers of its computer that send its string (issue 12).

Through the real request handler, in-process, with the stateful fake adapter standing in for
Windows (services, secrets files and their ACLs): a server with -AuthCredential and its workers
are installed, then the server is installed again with another credential (or -AllowAnonymous).
The plan rewrites the secrets file of each worker that follows the server and restarts it after
the server; workers with their own -AuthCredential, or another API URL, are left and named in a
warning, as are the workers of other computers. What-if, apply, rollback and -Confirm alike, and
never a secret in any output. The real server's side (a real 401 after a rotation, and health
saying why) is tests/diagnosis/test_server_auth.py.
"""
from __future__ import annotations

import io
import json
from typing import Any

import pytest

from prefectwin.events import Events
from prefectwin.rpc import handle
from prefectwin.services import auth
from prefectwin.services.secrets_file import file_values

OLD = "Tapir-Old-5e2&:@/%k"
NEW = "Dingo-New-1c7;=\"x"
OWN = "Gecko-Own-6a0+"
SECRETS = (OLD, NEW, OWN, f"admin:{OLD}", f"admin:{NEW}", f"etl:{OWN}", json.dumps(NEW)[1:-1])


@pytest.fixture
def adapter(service_adapter):
    return service_adapter


def call(command: str, params: dict, what_if: bool = False, **extra: Any) -> tuple[dict, list[dict]]:
    stream = io.StringIO()
    response, _ = handle(json.dumps({"protocol": 1, "command": command, "params": params, "whatIf": what_if, **extra}).encode(), Events(stream))
    text = json.dumps(response, ensure_ascii=False) + stream.getvalue()
    for secret in SECRETS:
        assert secret not in text, f"a secret is shown: {text[:600]}"
    return response, [json.loads(line) for line in stream.getvalue().splitlines()]


def warnings(events: list[dict]) -> list[str]:
    return [e["message"] for e in events if e.get("level") == "warning"]


def sent(adapter, name: str) -> dict[str, str]:
    entries = adapter.services[name.lower()].parameters["AppEnvironmentExtra"]
    env = dict(entry.partition("=")[::2] for entry in entries)
    text = adapter.secret_files.get(env.get("PREFECT_PROFILES_PATH", ""))
    return file_values(text) if text is not None else {}


@pytest.fixture
def machine(adapter, tmp_path, free_port):
    """A running server on 0.0.0.0 with auth, a worker that follows it, one with its own
    credential, and one that talks to another server."""
    home = str(tmp_path / "home")
    server = {"name": "PrefectServer", "role": "Server", "prefectHome": home, "port": free_port(), "bindAddress": "0.0.0.0", "start": True}
    worker = {"role": "Worker", "pool": "etl", "prefectHome": home, "start": True}
    assert call("service.install", {**server, "authCredential": {"userName": "admin", "password": OLD}})[0]["ok"]
    assert call("service.install", {**worker, "name": "Follower"})[0]["ok"]
    assert call("service.install", {**worker, "name": "OwnCredential", "authCredential": {"userName": "etl", "password": OWN}})[0]["ok"]
    elsewhere = {**worker, "name": "Elsewhere", "apiUrl": "http://127.0.0.1:9/api", "dependsOn": []}
    assert call("service.install", elsewhere)[0]["ok"]
    assert sent(adapter, "Follower")[auth.CLIENT_AUTH_KEY] == f"admin:{OLD}"
    return server


def rotated(server: dict, password: str = NEW) -> dict:
    return {**server, "authCredential": {"userName": "admin", "password": password}}


def test_a_rotation_plans_the_followers_rewrite_and_restart_after_the_server_masked(adapter, machine):
    before = adapter.snapshot()
    response, events = call("service.install", rotated(machine), what_if=True)
    assert response["ok"], response
    actions = response["result"]["actions"]
    assert adapter.snapshot() == before
    kinds = [(a["kind"], a["target"].rsplit("/", 1)[-1]) for a in actions]
    server_file = next(a for a in actions if a["kind"] == "write-secrets-file" and a["target"].endswith("PrefectServer.secrets.toml"))
    server_restart = next(a for a in actions if a["kind"] == "restart-service" and a["target"] == "PrefectServer")
    worker_file = next(a for a in actions if a["kind"] == "write-secrets-file" and a["target"].endswith("Follower.secrets.toml"))
    worker_restart = next(a for a in actions if a["kind"] == "restart-service" and a["target"] == "Follower")
    assert kinds.index(("restart-service", "PrefectServer")) < kinds.index(("restart-service", "Follower")), kinds
    assert server_file["id"] in worker_file["dependsOn"]
    assert set(worker_restart["dependsOn"]) == {worker_file["id"], server_restart["id"]}
    assert "new PREFECT_API_AUTH_STRING of server 'PrefectServer'" in worker_file["description"]
    # Nobody else is touched, and each of them is named.
    assert not any(a["target"] in ("OwnCredential", "Elsewhere") or "OwnCredential" in a["target"] or "Elsewhere" in a["target"] for a in actions)
    said = warnings(events)
    assert any("'OwnCredential'" in w and "own -AuthCredential" in w and "HTTP 401" in w for w in said), said
    assert any("'Elsewhere'" in w and "another API URL" in w for w in said), said
    assert any("other computers" in w and "-AuthCredential" in w for w in said), said


def test_applying_a_rotation_carries_the_new_string_and_restarts_the_follower_after_the_server(adapter, machine):
    own_before = sent(adapter, "OwnCredential")
    elsewhere_before = adapter.secret_files.copy()
    start = len(adapter.calls)
    response, _ = call("service.install", rotated(machine))
    assert response["ok"], response
    assert sent(adapter, "PrefectServer")[auth.SERVER_AUTH_KEY] == f"admin:{NEW}"
    assert sent(adapter, "Follower")[auth.CLIENT_AUTH_KEY] == f"admin:{NEW}"
    assert sent(adapter, "OwnCredential") == own_before
    assert not any(p.endswith("Elsewhere.secrets.toml") for p in set(adapter.secret_files) | set(elsewhere_before))
    order = [(c.name, c.args[0]) for c in adapter.calls[start:] if c.name in ("stop_service", "start_service", "write_restricted_file")]
    server_start = order.index(("start_service", "PrefectServer"))
    assert order.index(("stop_service", "Follower")) > server_start and order[-1] == ("start_service", "Follower"), order
    assert ("stop_service", "OwnCredential") not in order
    # The follower's file is the one its own install writes: installing it again changes nothing.
    worker = {"name": "Follower", "role": "Worker", "pool": "etl", "prefectHome": machine["prefectHome"], "start": True}
    assert call("service.install", worker, what_if=True)[0]["result"]["actions"] == []
    assert call("service.install", rotated(machine), what_if=True)[0]["result"]["actions"] == []


def test_a_rotation_keeps_the_secret_variables_of_a_follower_s_launcher_in_their_own_table(adapter, machine):
    from prefectwin.services.secrets_file import file_values
    from prefectwin.target.launcher import ENVIRONMENT_TABLE, read_variables

    worker = {"name": "Follower", "role": "Worker", "pool": "etl", "prefectHome": machine["prefectHome"], "start": True, "secretEnvironment": {"WAREHOUSE_TOKEN": OWN}}
    assert call("service.install", worker)[0]["ok"]
    path = next(p for p in adapter.secret_files if p.endswith("Follower.secrets.toml"))
    assert read_variables(adapter.secret_files[path]) == {"WAREHOUSE_TOKEN": OWN}
    assert call("service.install", rotated(machine))[0]["ok"]
    text = adapter.secret_files[path]
    # The launcher still finds its variable, and Prefect's profile did not gain it.
    assert read_variables(text) == {"WAREHOUSE_TOKEN": OWN}
    assert "WAREHOUSE_TOKEN" not in file_values(text, "profiles.prefectwin")
    assert file_values(text, "profiles.prefectwin")[auth.CLIENT_AUTH_KEY] == f"admin:{NEW}"
    assert file_values(text, ENVIRONMENT_TABLE) == {"WAREHOUSE_TOKEN": OWN}
    # And it is the file the worker's own install writes: installing it again changes nothing.
    assert call("service.install", worker, what_if=True)[0]["result"]["actions"] == []


def test_a_failed_follower_restart_rolls_the_server_and_the_worker_back_together(adapter, machine):
    from fakes.services import InjectedFailure

    files = dict(adapter.secret_files)
    real, failed = adapter.start_service, []

    def start_once_failing(name: str, timeout_sec: int) -> None:
        if name == "Follower" and not failed:
            failed.append(name)
            raise InjectedFailure("the worker did not start")
        real(name, timeout_sec)

    adapter.start_service = start_once_failing
    response, _ = call("service.install", rotated(machine))
    assert not response["ok"] and response["error"]["code"] == "ApplyFailed", response
    assert adapter.secret_files == files
    assert sent(adapter, "Follower")[auth.CLIENT_AUTH_KEY] == f"admin:{OLD}"
    assert sent(adapter, "PrefectServer")[auth.SERVER_AUTH_KEY] == f"admin:{OLD}"
    assert failed == ["Follower"] and {s.status for s in adapter.services.values()} == {"Running"}


def test_declining_the_server_s_rewrite_under_confirm_skips_the_followers(adapter, machine):
    from prefectwin.serve import answer

    def session_request(**extra) -> dict:
        document = {"id": 1, "protocol": 1, "command": "service.install", "params": rotated(machine), **extra}
        return answer(json.dumps(document).encode(), lambda event: None)

    planned = session_request(whatIf=True)
    actions = planned["result"]["actions"]
    declined = next(a["id"] for a in actions if a["kind"] == "write-secrets-file" and a["target"].endswith("PrefectServer.secrets.toml"))
    files, start = dict(adapter.secret_files), len(adapter.calls)
    applied = session_request(apply={"planId": planned["result"]["planId"], "confirm": [a["id"] for a in actions if a["id"] != declined]})
    assert applied["ok"], applied
    assert adapter.secret_files == files
    ran = [a["target"] for a in applied["result"]["actions"]]
    assert not any("Follower" in target for target in ran), ran
    assert "Follower" not in [c.args[0] for c in adapter.calls[start:] if c.name in ("stop_service", "start_service")]


def test_removing_the_server_s_auth_takes_the_string_out_of_the_follower(adapter, machine):
    anonymous = {k: v for k, v in machine.items()}
    anonymous["allowAnonymous"] = True
    response, events = call("service.install", anonymous, what_if=True)
    assert response["ok"], response
    worker_file = next(a for a in response["result"]["actions"] if a["target"].endswith("Follower.secrets.toml"))
    assert "no PREFECT_API_AUTH_STRING" in worker_file["description"]
    assert any("no longer require authentication" in w for w in warnings(events)), warnings(events)
    assert call("service.install", anonymous)[0]["ok"]
    assert auth.CLIENT_AUTH_KEY not in sent(adapter, "Follower")
    assert sent(adapter, "OwnCredential")[auth.CLIENT_AUTH_KEY] == f"etl:{OWN}"


def test_an_unchanged_server_plans_nothing_for_its_workers_and_warns_nothing(adapter, machine):
    response, events = call("service.install", rotated(machine, OLD), what_if=True)
    assert response["result"]["actions"] == []
    assert not any("auth" in w.lower() for w in warnings(events)), warnings(events)


def test_a_worker_marker_says_where_its_string_comes_from(adapter, machine):
    markers = {n: json.loads(adapter.services[n.lower()].marker) for n in ("Follower", "OwnCredential", "Elsewhere")}
    assert markers["Follower"]["authFrom"] == "PrefectServer"
    assert markers["OwnCredential"]["authFrom"] == auth.GIVEN_AUTH
    assert "authFrom" not in markers["Elsewhere"]


def test_a_worker_from_before_authfrom_follows_when_it_sends_the_server_s_old_string(adapter, machine):
    follower = adapter.services["follower"]
    marker = json.loads(follower.marker)
    del marker["authFrom"]
    follower.marker = json.dumps(marker)
    response, _ = call("service.install", rotated(machine), what_if=True)
    assert any(a["target"].endswith("Follower.secrets.toml") for a in response["result"]["actions"])
    # Its own credential from before authFrom, with another string: not a follower.
    own = adapter.services["owncredential"]
    marker = json.loads(own.marker)
    del marker["authFrom"]
    own.marker = json.dumps(marker)
    response, _ = call("service.install", rotated(machine), what_if=True)
    assert not any("OwnCredential" in a["target"] for a in response["result"]["actions"])


def test_a_session_that_may_not_read_the_secrets_files_says_the_plan_is_partial(adapter, machine):
    """A -WhatIf without administrator rights: neither the server's old string nor the workers'
    files can be read, so the workers' part is not planned, and the warnings say so."""
    from prefectwin.errors import PermissionDenied

    adapter.fail_on["read_restricted_file"] = PermissionDenied("Access to the path is denied.")
    response, events = call("service.install", rotated(machine), what_if=True)
    assert response["ok"], response
    assert not any("Follower" in a["target"] for a in response["result"]["actions"])
    said = warnings(events)
    assert any("cannot tell whether its auth changes" in w and "administrator" in w for w in said), said
    assert any("'Follower'" in w and "cannot read the secrets file" in w for w in said), said
