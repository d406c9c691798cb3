"""Shared pytest fixtures for the PrefectWin backend, one module per real part under
tests/fixtures/ (see each module's docstring, and each fixture's):

    fixtures/common.py          free_port, prefect_home, the autouse isolation of PREFECT_* and
                                the helpers every module uses (in_ci, unavailable, merge_env, ...)
    fixtures/rpc.py             run_rpc, neutral_cwd: the real `python -m prefectwin rpc`
    fixtures/prefect_server.py  prefect_server, prefect_server_factory: real `prefect server start`
    fixtures/postgres.py        postgres_url, throwaway_postgres: real PostgreSQL
    fixtures/adapter.py         fake_adapter: the recording system adapter fake
    fixtures/parallel.py        how the tests share out over pytest-xdist workers (-n 2)

Real parts wherever this machine has them (a real `prefect server start`, real PostgreSQL,
real sockets and processes); fakes only for Windows-only calls (tests/fakes/).
"""
from __future__ import annotations

import signal
import sys
from typing import Any

import pytest

pytest_plugins = ["fixtures.common", "fixtures.rpc", "fixtures.prefect_server", "fixtures.postgres", "fixtures.adapter", "fixtures.parallel"]


# --------------------------------------------------------------------------------------------
# SIGTERM -> Ctrl-C
# --------------------------------------------------------------------------------------------
def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # `timeout`, CI runners and IDEs stop pytest with SIGTERM, which by default ends Python at
    # once: session fixtures (PostgreSQL clusters, Prefect servers) would be orphaned. As a
    # KeyboardInterrupt, pytest stops and tears them down.
    if sys.platform != "win32" and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
