"""A real server and a real worker, and a rotation of the server's auth through service.install.

Both are real Prefect 3.9.1 processes (the cached target venv, tests/target_venvs.py) kept by the
POSIX stand-in for the Service Control Manager (system/posix_standin.py), installed by the real
`service.install` handler: the server with -AuthCredential on loopback, the worker without
-ApiUrl or -AuthCredential, so it takes the server's string. What Linux has no equivalent of is
a no-op here and nothing else: the service's account and its ACL grants, the firewall rule.

Then the server is installed again with another credential. The one plan rewrites the worker's
secrets file and restarts it after the server; afterwards the real server refuses the old string
(HTTP 401), takes the new one, and the real worker is healthy against it (its heartbeat query,
asked with the string its own file now holds). Then auth is removed (-AllowAnonymous on
loopback): the worker's file loses the string and the worker is healthy again.
"""
from __future__ import annotations

import base64
import io
import json
import os
import urllib.error
import urllib.request
from typing import Any, Optional, Sequence

import pytest
from target_venvs import target_python

import prefectwin.system as system
from prefectwin.events import Events, SilentEvents
from prefectwin.rpc import handle
from prefectwin.services import auth, health
from prefectwin.services.secrets_file import file_values
from prefectwin.system.posix import PosixAdapter
from prefectwin.system.posix_standin import ROOT_VARIABLE, StandInServices

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the POSIX stand-in for the SCM; Windows has the real one")

RELEASE = "3.9.1"
OLD, NEW = "Marmot-Old-2f8&:@", "Lemur-New-9b3%;="
SECRETS = (OLD, NEW, f"admin:{OLD}", f"admin:{NEW}")


class StandInMachine(PosixAdapter):
    """The POSIX adapter over the stand-in, with the Windows-only parts that have no Linux
    counterpart answered as a machine where they are already right: accounts, ACLs, firewall."""

    def has_modify(self, path: str, principal: str) -> bool:
        return True

    def has_read_execute(self, path: str, principal: str) -> bool:
        return True

    def firewall_rule_port(self, name: str) -> Optional[int]:
        return None

    def firewall_rule_scope(self, name: str) -> Optional[tuple[tuple[str, ...], tuple[str, ...]]]:
        return None

    def set_service_account(self, nssm: Optional[str], name: str, account: str, password: Any) -> None:
        # Kept where the SCM keeps it, so a second install reads it back; the process still runs as this user.
        self.nssm_set(nssm, name, "ObjectName", (account,))

    def service_account_facts(self, principal: str) -> Any:
        from prefectwin.diagnosis.facts import ServiceAccountFacts

        return ServiceAccountFacts(principal=principal)

    def grant_modify(self, path: str, principal: str) -> None:
        return None

    def revoke_modify(self, path: str, principal: str) -> None:
        return None

    def grant_read_execute(self, path: str, principal: str) -> None:
        return None

    def revoke_read_execute(self, path: str, principal: str) -> None:
        return None

    def add_firewall_rule(self, name: str, port: int, remote_addresses: Sequence[str] = (), profiles: Sequence[str] = ()) -> None:
        return None


def call(command: str, params: dict, what_if: bool = False) -> tuple[dict, list[dict]]:
    stream = io.StringIO()
    response, _ = handle(json.dumps({"protocol": 1, "command": command, "params": params, "whatIf": what_if}).encode(), Events(stream))
    text = json.dumps(response, ensure_ascii=False) + stream.getvalue()
    for secret in SECRETS:
        assert secret not in text, f"a secret is shown: {text[:600]}"
    return response, [json.loads(line) for line in stream.getvalue().splitlines()]


def status_with(api_url: str, auth_string: Optional[str]) -> int:
    request = urllib.request.Request(f"{api_url}/admin/version")
    if auth_string:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth_string.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory, free_port) -> Any:
    base = tmp_path_factory.mktemp("rotation")
    root = str(base / "services")
    adapter = StandInMachine(services=StandInServices(root))
    previous, saved = system._override, os.environ.get(ROOT_VARIABLE)
    system.use_adapter(adapter)
    os.environ[ROOT_VARIABLE] = root
    python = target_python(RELEASE)
    home = str(base / "home")
    server = {"name": "RotServer", "role": "Server", "prefectHome": home, "port": free_port(), "pythonPath": python, "start": True}
    worker = {"name": "RotWorker", "role": "Worker", "pool": "rotation-pool", "prefectHome": home, "pythonPath": python}
    try:
        installed, _ = call("service.install", {**server, "authCredential": {"userName": "admin", "password": OLD}, "wait": True, "timeoutSec": 240})
        assert installed["ok"], installed
        followed, _ = call("service.install", {**worker, "wait": True, "timeoutSec": 180})
        assert followed["ok"], followed
        yield {"adapter": adapter, "server": server, "worker": worker}
    finally:
        for name in ("RotWorker", "RotServer"):
            try:
                adapter.stop_service(name, 30)
            except Exception:  # noqa: BLE001 - one that never started
                pass
        system.use_adapter(previous)
        if saved is None:
            os.environ.pop(ROOT_VARIABLE, None)
        else:
            os.environ[ROOT_VARIABLE] = saved


def worker_sends(adapter) -> Optional[str]:
    record = adapter.read_service("RotWorker")
    return auth.secrets_file_values(record, adapter).get(auth.CLIENT_AUTH_KEY)


def test_a_rotation_reaches_the_real_worker_and_the_real_server_refuses_the_old_string(machine):
    adapter, server = machine["adapter"], machine["server"]
    api_url = adapter.read_service("RotServer").managed["apiUrl"]
    assert worker_sends(adapter) == f"admin:{OLD}"
    rotated = {**server, "authCredential": {"userName": "admin", "password": NEW}}
    planned, _ = call("service.install", rotated, what_if=True)
    assert [(a["kind"], a["target"]) for a in planned["result"]["actions"]][-2:][1] == ("restart-service", "RotWorker"), planned["result"]["actions"]
    applied, _ = call("service.install", rotated)
    assert applied["ok"], applied
    assert worker_sends(adapter) == f"admin:{NEW}"
    # The real worker, restarted with the new string, heartbeats to the real server again
    # (a restart does not wait for health: this does, before the server is asked anything).
    [server_info, worker_info] = health.wait_until_healthy(["RotServer", "RotWorker"], 180, adapter, SilentEvents())
    assert (server_info.health, worker_info.health) == ("Healthy", "Healthy"), (server_info, worker_info)
    assert status_with(api_url, f"admin:{OLD}") == 401 and status_with(api_url, f"admin:{NEW}") == 200
    # Installed again as it is now: nothing to do, for the server or its worker.
    assert call("service.install", rotated, what_if=True)[0]["result"]["actions"] == []


def test_removing_the_auth_takes_the_string_out_of_the_real_worker(machine):
    adapter, server = machine["adapter"], machine["server"]
    applied, _ = call("service.install", {**server, "allowAnonymous": True})
    assert applied["ok"], applied
    assert worker_sends(adapter) is None
    [_, worker_info] = health.wait_until_healthy(["RotServer", "RotWorker"], 180, adapter, SilentEvents())
    assert worker_info.health == "Healthy", worker_info
    assert status_with(adapter.read_service("RotServer").managed["apiUrl"], None) == 200
