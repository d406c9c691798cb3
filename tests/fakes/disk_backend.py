"""The real `python -m prefectwin serve` (or `rpc`, with the argument `rpc`), with the
disk-backed fake service adapter installed, for tests/change/test_kill_recovery.py.

Environment:
  FAKE_STATE         the JSON file that holds the fake machine (fakes/disk_services.py)
  FAKE_KILL_AT       SIGKILL this backend right after the k-th change is made (optional)
  FAKE_PROBE_CACHE   a file that keeps the real probe's answer about this interpreter, so that
                     the many processes of one test run ask it once (optional)
Everything else (planning, validation, the engine, its journal, recovery) is the real backend.
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fakes.disk_services import DiskServiceAdapter  # noqa: E402

import prefectwin.system as system  # noqa: E402
from prefectwin.services import validate  # noqa: E402


def _cached_probe():
    from prefectwin.diagnosis.facts import PrefectFacts, PythonFacts

    real = validate.probe.run_probe
    path = os.environ["FAKE_PROBE_CACHE"]

    def run(python: str, *, env: dict, cwd):
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                saved = json.load(handle)
            return PythonFacts.model_validate(saved[0]), PrefectFacts.model_validate(saved[1])
        found = real(python, env=env, cwd=cwd)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump([f.model_dump(mode="json") for f in found], handle)
        os.replace(path + ".tmp", path)
        return found

    return run


if os.environ.get("FAKE_PROBE_CACHE"):
    validate.probe.run_probe = _cached_probe()
kill_at = os.environ.get("FAKE_KILL_AT")
system.use_adapter(DiskServiceAdapter(os.environ["FAKE_STATE"], kill_at=int(kill_at) if kill_at else None))

if sys.argv[1:] == ["rpc"]:
    from prefectwin.rpc import main
else:
    from prefectwin.serve import main
sys.exit(main([]))
