"""Base classes for every model that crosses the bridge.

Wire names are camelCase (the protocol's convention); Python names stay snake_case.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


def not_blank(value: Any) -> Any:
    """For optional text params: an empty string is a mistake, not a request for the default."""
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty; omit it to use the default")
    return value


class Params(BaseModel):
    """A command's parameters. Unknown names are an error, never silently dropped, and types
    are checked, never coerced: `true` is no port and `"yes"` no boolean (the PowerShell side
    sends ints, booleans and enum names as such)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        # Only the command that is called gets its validator built.
        defer_build=True,
    )


class Result(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
    )


class ShownAction(BaseModel):
    """An action as the whatIf answer showed it; its other fields are not compared."""

    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)

    id: str
    kind: str
    description: str
    target: Optional[str] = None
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn")


class ShownPlan(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)

    fingerprint: str = Field(min_length=1, max_length=64)
    actions: list[ShownAction] = Field(max_length=1000)


class ApplyRequest(BaseModel):
    """Apply the plan a whatIf answer showed: by id in the backend that made it, else by
    re-planning and comparing with `plan` (docs/protocol.md, Plans)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    plan_id: str = Field(alias="planId", min_length=1, max_length=64)
    confirm: Optional[list[str]] = Field(None, max_length=1000)
    plan: Optional[ShownPlan] = None


class Request(BaseModel):
    """The envelope. Strict: PowerShell's ConvertTo-Json sends real JSON types, and a
    quoted "1" for the protocol means the caller is not speaking this protocol."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    protocol: Literal[1]
    command: str = Field(min_length=1, max_length=100)
    params: Optional[dict[str, Any]] = None
    what_if: bool = Field(False, alias="whatIf")
    # The caller's current directory. The bridge starts Python in a fixed folder, because with
    # `-m` the start folder goes first on sys.path and a stray pydantic.py or prefectwin/ there
    # would shadow the backend; relative paths are then resolved against this instead.
    cwd: Optional[str] = Field(None, min_length=1)
    # The caller's whole environment. A long-lived backend inherited the environment of the
    # moment it started; serving each request in the caller's current one makes its answer
    # the one a fresh process would give. Without it, the process's own environment is used.
    environment: Optional[dict[str, str]] = None
    apply: Optional[ApplyRequest] = None

    @field_validator("protocol", mode="before")
    @classmethod
    def _the_integer_1(cls, value: Any) -> Any:
        # Literal[1] compares by equality, so even in strict mode `true` and `1.0` would pass.
        if type(value) is not int:
            raise ValueError("Input should be the integer 1")
        return value
