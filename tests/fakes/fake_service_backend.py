"""The REAL backend (`python -m prefectwin rpc|serve`) on a machine whose Windows services are
the stateful fake's, for Pester tests that run the real module under real pwsh
(tests/ServiceDiagnosis.Tests.ps1).

PREFECTWIN_PYTHON names a launcher (a .sh or .cmd) that runs this file with the bridge's
arguments (`-X utf8 -m prefectwin rpc`, of which only what follows `prefectwin` matters).
The machine is read from the JSON file PREFECTWIN_FAKE_MACHINE names:

    {"services": [{"name", "parameters": {NAME: [values]}, "marker", "status"}],
     "accounts": {PRINCIPAL: ServiceAccountFacts fields (camelCase or snake_case)}}

Only the adapter is fake: the handler, the checks, the probe of the service's interpreter and
the file system are real.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _adapter():
    from fakes.services import FakeService, FakeServiceAdapter
    from prefectwin.diagnosis.facts import ServiceAccountFacts

    # utf-8-sig: Windows PowerShell writes a BOM.
    machine = json.loads(Path(os.environ["PREFECTWIN_FAKE_MACHINE"]).read_text(encoding="utf-8-sig"))
    services = [
        FakeService(
            name=s["name"],
            parameters={k: tuple(v) for k, v in s.get("parameters", {}).items()},
            marker=s.get("marker"),
            status=s.get("status", "Stopped"),
        )
        for s in machine.get("services", [])
    ]
    accounts = {k: ServiceAccountFacts.model_validate(v) for k, v in machine.get("accounts", {}).items()}
    return FakeServiceAdapter(services=services, accounts=accounts)


def main() -> int:
    here = Path(__file__).resolve().parent
    # This folder (a script's own, first on sys.path) holds modules named like packages
    # (config, facts, services): only its parent, where `fakes` is a package, belongs there.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    import prefectwin.system as system
    from prefectwin.__main__ import main as backend_main

    system.use_adapter(_adapter())
    args = sys.argv[1:]
    rest = args[args.index("prefectwin") + 1:] if "prefectwin" in args else args
    return backend_main(rest)


if __name__ == "__main__":
    sys.exit(main())
