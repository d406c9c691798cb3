"""Install-PrefectStack -AuthCredential over a stack that runs carries the server's new auth to
this computer's workers that send its string, as Install-PrefectService does (issue 12):
through the real request handler, in-process, with the stateful fake adapter standing in for
Windows. The stack's own worker is planned by the stack itself, once; a worker installed apart
from it that follows the server has its secrets file rewritten and is restarted after the
server; the others are named in warnings; and no secret is in any output."""
from __future__ import annotations

import json

import pytest

from prefectwin.services import auth
from services.test_rotation import NEW, OLD, OWN, SECRETS, call, sent, warnings


@pytest.fixture
def machine(stack_adapter, monkeypatch, tmp_path, free_port):
    """A stack (server on 0.0.0.0 with auth, and its worker), a worker installed apart that
    follows the server, and one with its own credential."""
    from prefectwin.commands import stack
    from prefectwin.services import health

    monkeypatch.setattr(health, "server_health", lambda *args, **kwargs: ("Healthy", "answers"))
    monkeypatch.setattr(health, "worker_health", lambda *args, **kwargs: ("Healthy", "ONLINE", None))
    monkeypatch.setattr(stack, "_diagnose", lambda names, ctx: [])
    home = str(tmp_path / "home")
    params = {"prefectHome": home, "port": free_port(), "bindAddress": "0.0.0.0"}
    assert call("stack.install", {**params, "authCredential": {"userName": "admin", "password": OLD}})[0]["ok"]
    worker = {"role": "Worker", "pool": "etl", "prefectHome": home, "start": True}
    assert call("service.install", {**worker, "name": "Follower"})[0]["ok"]
    assert call("service.install", {**worker, "name": "OwnCredential", "authCredential": {"userName": "etl", "password": OWN}})[0]["ok"]
    assert sent(stack_adapter, "Follower")[auth.CLIENT_AUTH_KEY] == f"admin:{OLD}"
    return params


def rotated(params: dict) -> dict:
    return {**params, "authCredential": {"userName": "admin", "password": NEW}}


def test_a_stack_rotation_plans_the_follower_once_after_the_server_and_warns_of_the_others(stack_adapter, machine):
    before = stack_adapter.snapshot()
    response, events = call("stack.install", rotated(machine), what_if=True)
    assert response["ok"], response
    assert stack_adapter.snapshot() == before
    actions = response["result"]["actions"]
    files = [a["target"].replace("\\", "/").rsplit("/", 1)[-1] for a in actions if a["kind"] == "write-secrets-file"]
    assert sorted(files) == ["Follower.secrets.toml", "PrefectServer.secrets.toml", "PrefectWorker.secrets.toml"], files
    by_id = {a["id"]: a for a in actions}
    gate = next(a for a in actions if a["kind"] == "wait-healthy" and a["target"] == "PrefectServer")
    follower_restart = next(a for a in actions if a["kind"] == "restart-service" and a["target"] == "Follower")
    server_restart = next(a for a in actions if a["kind"] == "restart-service" and a["target"] == "PrefectServer")
    assert server_restart["id"] in follower_restart["dependsOn"] and follower_restart["id"] in gate["dependsOn"]
    assert set(by_id) >= set(gate["dependsOn"])
    assert not any("OwnCredential" in a["target"] for a in actions)
    said = warnings(events)
    assert any("'OwnCredential'" in w and "own -AuthCredential" in w for w in said), said
    assert any("other computers" in w for w in said), said
    assert not any("'PrefectWorker'" in w for w in said), said


def test_applying_a_stack_rotation_rewrites_the_follower_and_restarts_it_after_the_server(stack_adapter, machine):
    own_before = sent(stack_adapter, "OwnCredential")
    from prefectwin.serve import answer

    def session_request(**extra) -> dict:
        document = {"id": 1, "protocol": 1, "command": "stack.install", "params": rotated(machine), **extra}
        response = answer(json.dumps(document).encode(), lambda event: None)
        assert not any(secret in json.dumps(response, ensure_ascii=False) for secret in SECRETS)
        return response

    planned = session_request(whatIf=True)["result"]
    start = len(stack_adapter.calls)
    # Applied by its id: the state the plan was made from (the follower's too) is read the same again.
    response = session_request(apply={"planId": planned["planId"]})
    assert response["ok"], response
    assert response["result"]["green"] is True
    assert sent(stack_adapter, "PrefectServer")[auth.SERVER_AUTH_KEY] == f"admin:{NEW}"
    assert sent(stack_adapter, "PrefectWorker")[auth.CLIENT_AUTH_KEY] == f"admin:{NEW}"
    assert sent(stack_adapter, "Follower")[auth.CLIENT_AUTH_KEY] == f"admin:{NEW}"
    assert sent(stack_adapter, "OwnCredential") == own_before
    order = [(c.name, c.args[0]) for c in stack_adapter.calls[start:] if c.name in ("stop_service", "start_service")]
    assert order.index(("stop_service", "Follower")) > order.index(("start_service", "PrefectServer")), order
    assert ("start_service", "Follower") in order and ("stop_service", "OwnCredential") not in order
    # The next run finds nothing to carry: the follower's file is the one its own install writes.
    assert call("stack.install", rotated(machine), what_if=True)[0]["result"]["actions"] == []
