"""The service payload for real, with SQLite (Prefect's default database under PREFECT_HOME).
The cases are in service_payload_cases.py; this module starts ONE server."""
from __future__ import annotations

import pytest

from service_payload_cases import *  # noqa: F401,F403 - the shared cases and their fixtures


@pytest.fixture(scope="module")
def payload_database() -> dict:
    return {"label": "SQLite", "params": {}}
