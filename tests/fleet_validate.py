"""The backend's validation of DSC resource instances as a node's LCM would hand them over, for
tests/Fleet.Tests.ps1, which cannot compile a MOF or reach a node's Service Control Manager.

    python tests/fleet_validate.py < instances.json

stdin: {"instances": [{"node", "resource", "id", "properties", "machineVariables"}]}, each
instance's [DscProperty()] values as Invoke-PrefectDscResource sends them (a PSCredential as
{userName, password}), and the machine environment variables the node holds (what
AuthStringVariable and DatabaseUrlVariable name).

For each instance, what dsc.test and dsc.set decide before they touch the machine: the instance
model (prefectwin.dsc.instances), then for a Present PrefectService its service.install
parameters (prefectwin.dsc.service.install_params: the MOF secret rules, the machine variables)
and the Windows service spec built from them (services.spec.build_spec with the Windows flavour:
roles, absolute Windows paths, auth of a non-loopback server, accounts, firewall scope). Only the
node's machine variables are a fake (tests/fakes/adapter.py): reading them is Windows-only.

stdout: one JSON list, per instance {node, resource, id, ok} and, when refused, the error's
wire form {code, category, message, target, remediation}; never a secret.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes.adapter import FakeAdapter  # noqa: E402

from pydantic import ValidationError  # noqa: E402

from prefectwin import system  # noqa: E402
from prefectwin.commands.service import ServiceInstallParams  # noqa: E402
from prefectwin.dsc.instances import MODELS  # noqa: E402
from prefectwin.dsc.service import install_params  # noqa: E402
from prefectwin.errors import InvalidArgument, PrefectWinError  # noqa: E402
from prefectwin.rpc import validation_problems  # noqa: E402
from prefectwin.services.spec import build_spec  # noqa: E402

WINDOWS_PYTHON = "C:\\Program Files\\Python312\\python.exe"
WINDOWS_HOME = "C:\\ProgramData\\Prefect"


def judge(entry: dict[str, Any]) -> dict[str, Any]:
    variables = {str(k).upper(): v for k, v in (entry.get("machineVariables") or {}).items()}
    system.use_adapter(FakeAdapter(returns={"get_environment_variable": lambda name, scope: variables.get(name.upper()) if scope == "Machine" else None}))
    resource = entry["resource"]
    try:
        instance = MODELS[resource].parse(resource, entry.get("properties") or {})
        if resource == "PrefectService" and instance.ensure == "Present":
            try:
                params = ServiceInstallParams.model_validate(install_params(instance))
            except ValidationError as exc:
                # What rpc answers for service.install's parameters (never the input).
                problem = validation_problems(exc)[0]
                raise InvalidArgument(f"{problem['field']}: {problem['message']}", target=problem["field"]) from None
            build_spec(params, python=WINDOWS_PYTHON, default_home=WINDOWS_HOME, host=str(entry["node"]), flavor="windows", backend_python=WINDOWS_PYTHON)
    except PrefectWinError as exc:
        return {"node": entry["node"], "resource": resource, "id": entry.get("id"), "ok": False, **exc.to_wire()}
    finally:
        system.use_adapter(None)
    return {"node": entry["node"], "resource": resource, "id": entry.get("id"), "ok": True}


def main() -> int:
    request = json.loads(sys.stdin.buffer.read().decode("utf-8-sig"))
    print(json.dumps([judge(entry) for entry in request["instances"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
