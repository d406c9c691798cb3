"""The checks. Each module registers its checks on import, so the import order below is the
order the checks are reported in: interpreter first, then Windows (which the service checks
import), then the service's own."""
from __future__ import annotations

# isort: off
from prefectwin.diagnosis.checks import python  # noqa: F401
from prefectwin.diagnosis.checks import prefect  # noqa: F401
from prefectwin.diagnosis.checks import settings  # noqa: F401
from prefectwin.diagnosis.checks import port  # noqa: F401
from prefectwin.diagnosis.checks import database  # noqa: F401
from prefectwin.diagnosis.checks import encoding  # noqa: F401
from prefectwin.diagnosis.checks import server  # noqa: F401
from prefectwin.diagnosis.checks import service  # noqa: F401
from prefectwin.diagnosis.checks import windows  # noqa: F401
# isort: on
from prefectwin.diagnosis.checks.base import REGISTRY, Check, CheckResult

CHECKS: tuple[Check, ...] = tuple(REGISTRY)
CHECK_NAMES: tuple[str, ...] = tuple(c.name for c in CHECKS)


def select(names) -> tuple[Check, ...]:
    if not names:
        return CHECKS
    wanted = set(names)
    return tuple(c for c in CHECKS if c.name in wanted)


def needs_of(checks: tuple[Check, ...]) -> frozenset[str]:
    return frozenset().union(*(c.needs for c in checks))


def run_checks(facts, checks: tuple[Check, ...]) -> list[CheckResult]:
    return [c.run(facts) for c in checks]
