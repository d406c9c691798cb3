"""What a check is: a pure function from Facts to one CheckResult."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional

from pydantic import Field

from prefectwin.diagnosis.facts import Facts
from prefectwin.models import Result

Status = Literal["Pass", "Warning", "Fail", "Skipped"]
# Which gatherers a check depends on, so `-Check` runs only the gathering it needs.
Need = Literal["probe", "cli", "home", "port", "database", "encoding", "health", "windows"]


class CheckResult(Result):
    check: str
    status: Status
    message: str
    remediation: Optional[str] = None
    data: dict[str, Any] = Field(default_factory=dict)
    #: the service diagnosed (Test-PrefectEnvironment -ServiceName); None for this shell
    service: Optional[str] = None


@dataclass(frozen=True)
class Check:
    name: str
    needs: frozenset[str]
    run: Callable[[Facts], CheckResult]


REGISTRY: list[Check] = []


def check(name: str, *needs: Need):
    def register(fn: Callable[[Facts], tuple]) -> Callable[[Facts], tuple]:
        def run(facts: Facts) -> CheckResult:
            status, message, remediation, data = fn(facts)
            return CheckResult(check=name, status=status, message=message, remediation=remediation, data=data or {})

        REGISTRY.append(Check(name, frozenset(needs), run))
        return fn

    return register


def passed(message: str, **data: Any) -> tuple:
    return "Pass", message, None, data


def warn(message: str, remediation: Optional[str], **data: Any) -> tuple:
    return "Warning", message, remediation, data


def fail(message: str, remediation: Optional[str], **data: Any) -> tuple:
    return "Fail", message, remediation, data


def skipped(reason: str, **data: Any) -> tuple:
    return "Skipped", reason, None, data
