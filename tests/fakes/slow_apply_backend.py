"""`python -m prefectwin rpc` with a recording fake adapter whose steps take their time, for
tests/bridge/test_stop_signals.py: it kills this backend in the middle of an apply.

The fake is Windows-like (User scope allowed) and keeps the persistent User environment in a
JSON file (FAKE_STATE), rewritten after every change, so the test reads the state the killed
backend left. Before each change it touches FAKE_IN_STEP and sleeps FAKE_STEP_SEC: the test
signals the backend while a step is in progress. Everything else is the real backend.
"""
from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fakes.adapter import FakeAdapter  # noqa: E402

import prefectwin.system as system  # noqa: E402
from prefectwin.rpc import main  # noqa: E402

STATE = os.environ["FAKE_STATE"]


def _load() -> dict:
    with open(STATE, encoding="utf-8") as handle:
        return json.load(handle)


def get_variable(name: str, scope: str):
    return _load().get(scope, {}).get(name)


def set_variable(name: str, value, scope: str) -> None:
    with open(os.environ["FAKE_IN_STEP"], "a", encoding="utf-8") as marker:
        marker.write(f"{name}\n")
    time.sleep(float(os.environ.get("FAKE_STEP_SEC", "2")))
    state = _load()
    variables = state.setdefault(scope, {})
    if value is None:
        variables.pop(name, None)
    else:
        variables[name] = value
    temp = STATE + ".tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(temp, STATE)


adapter = FakeAdapter(returns={"get_environment_variable": get_variable, "set_environment_variable": set_variable, "is_admin": False})
adapter.name = "windows"
system.use_adapter(adapter)
sys.exit(main(sys.argv[1:]))
