"""Backend responses for tests/Service.Tests.ps1, recorded from the real request handler.

The service commands succeed only on Windows, so their success responses cannot be replayed by
tests/bridge/test_contract.py here. Instead the real handler runs in-process with the stateful fake
adapter (the pre-flight validation, which needs the real machine, is left out: it is tested in
tests/services/test_command.py), and the responses are stored in tests/contract-services/recorded.json.
Pester mocks Invoke-PrefectBackend with them; this test fails when they drift from the backend.

Re-record:  .venv/bin/python tests/services/test_recorded.py
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RECORDED = Path(__file__).resolve().parents[1] / "contract-services" / "recorded.json"
DB_PASSWORD = "Recorded-Db-Pw-1"
ACCOUNT_PASSWORD = "Recorded-Acct-Pw-2"
AUTH_PASSWORD = "Recorded-Auth-Pw-3"
SECRET_VARIABLE = "Recorded-Var-Pw-4"

INSTALL = {
    "name": "PrefectServer",
    "role": "Server",
    "pythonPath": "/opt/prefect/venv/bin/python",
    "prefectHome": "/srv/prefect",
    "port": 4200,
    "bindAddress": "0.0.0.0",
    "openFirewall": True,
    "databaseUrl": "postgresql+asyncpg://prefect@db01:5432/prefect",
    "databaseCredential": {"userName": "prefect", "password": DB_PASSWORD},
    "account": "CONTOSO\\svc-prefect",
    "credential": {"userName": "CONTOSO\\svc-prefect", "password": ACCOUNT_PASSWORD},
    "authCredential": {"userName": "admin", "password": AUTH_PASSWORD},
    "passThru": True,
}
# A secret variable that is not a Prefect setting: the worker runs through the launcher.
WORKER = {
    "name": "PrefectWorker",
    "role": "Worker",
    "pythonPath": "/opt/prefect/venv/bin/python",
    "prefectHome": "/srv/prefect",
    "pool": "etl",
    "secretEnvironment": {"WAREHOUSE_DSN": SECRET_VARIABLE},
}


def record() -> dict[str, Any]:
    import prefectwin.services.validate as validate
    import prefectwin.system as system
    import itertools
    import types

    import prefectwin.change.model as model
    from fakes.services import FakeServiceAdapter
    from prefectwin.events import Events
    from prefectwin.rpc import handle

    adapter = FakeServiceAdapter()
    previous, real_validate, real_uuid = system._override, validate.validate_install, model.uuid
    # Plan ids are random; recorded ones are numbered, so the file stays the same run to run.
    numbers = itertools.count(1)
    model.uuid = types.SimpleNamespace(uuid4=lambda: types.SimpleNamespace(hex=f"{next(numbers):012d}"))
    system.use_adapter(adapter)
    validate.validate_install = lambda *args, **kwargs: None
    exchanges: dict[str, Any] = {}

    def call(key: str, command: str, params: dict, what_if: bool = False) -> None:
        request = {"protocol": 1, "command": command, "params": params, "whatIf": what_if}
        response, code = handle(json.dumps(request).encode(), Events(io.StringIO()))
        exchanges[key] = {"request": request, "response": response, "exitCode": code}

    try:
        call("install-plan", "service.install", INSTALL, what_if=True)
        call("install-applied", "service.install", INSTALL)
        call("install-again", "service.install", INSTALL, what_if=True)
        call("install-again-applied", "service.install", INSTALL)
        call("worker-applied", "service.install", {**WORKER, "passThru": True})
        call("get-all", "service.get", {})
        call("get-named", "service.get", {"name": ["PrefectServer", "PrefectWorker"]})
        call("uninstall-database-refused", "service.uninstall", {"name": "PrefectServer", "removeDatabase": True}, what_if=True)
        call("uninstall-plan", "service.uninstall", {"name": "PrefectServer", "removeLogs": True}, what_if=True)
        call("uninstall-worker-plan", "service.uninstall", {"name": "PrefectWorker", "removeDatabase": True}, what_if=True)
        call("uninstall-worker-applied", "service.uninstall", {"name": "PrefectWorker", "removeDatabase": True})
        call("uninstall-applied", "service.uninstall", {"name": "PrefectServer", "removeLogs": True})
        call("wait-missing", "service.wait", {"name": ["PrefectServer"], "timeoutSec": 1})
    finally:
        system.use_adapter(previous)
        validate.validate_install = real_validate
        model.uuid = real_uuid
    return exchanges


def _text(exchanges: dict[str, Any]) -> str:
    return json.dumps(exchanges, indent=2, ensure_ascii=True, sort_keys=True) + "\n"


@pytest.mark.skipif(sys.platform == "win32", reason="recorded with POSIX paths (the backend checks paths with the local OS's rules)")
def test_recorded_responses_are_what_the_backend_answers_now() -> None:
    assert RECORDED.is_file(), "run: .venv/bin/python tests/services/test_recorded.py"
    assert json.loads(RECORDED.read_text(encoding="utf-8")) == json.loads(_text(record())), (
        "the backend's answers changed: re-record with .venv/bin/python tests/services/test_recorded.py"
    )


def test_recorded_responses_hold_no_password() -> None:
    text = RECORDED.read_text(encoding="utf-8")
    responses = json.dumps([e["response"] for e in json.loads(text).values()])
    assert DB_PASSWORD not in responses and ACCOUNT_PASSWORD not in responses and AUTH_PASSWORD not in responses and SECRET_VARIABLE not in responses


if __name__ == "__main__":
    RECORDED.parent.mkdir(exist_ok=True)
    RECORDED.write_text(_text(record()), encoding="utf-8")
    print(f"recorded {RECORDED}")
