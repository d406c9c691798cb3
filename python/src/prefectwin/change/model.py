"""The one Action and Plan of every state-changing command.

An action's wire fields (id, kind, description, target, dependsOn, impact, parameter, scope)
are what ShouldProcess shows and what the caller confirms by id; `data` is what carrying it
out and undoing it needs. `data` never crosses the wire, and the journal keeps it only with
its secrets replaced (journal.redact).
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, Iterable, Literal, Optional

from pydantic import Field, SecretStr, field_validator

from prefectwin.models import Result
from prefectwin.secrets import MASK, mask_text, mask_url

Impact = Literal["Low", "Medium", "High"]


class Action(Result):
    id: str = ""
    kind: str
    description: str
    target: Optional[str] = None
    depends_on: list[str] = Field(default_factory=list)
    impact: Impact = "Medium"
    parameter: Optional[str] = None
    scope: Optional[str] = None
    data: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @field_validator("description", "target")
    @classmethod
    def _masked(cls, value: Optional[str]) -> Optional[str]:
        # The one place every plan line is made: what -WhatIf, ShouldProcess, progress and the
        # journal show of an action. The request's secrets are known by now (secrets.py).
        return mask_text(value)


class Plan(Result):
    """The actions, in the order they run, and a fingerprint of the state they were planned
    from: applying refuses (PlanStale) when that state has changed since."""

    id: str
    fingerprint: str
    actions: list[Action]


class Planned(Result):
    """Fields every state-changing command's result carries: the plan's id and fingerprint, so
    that the caller can apply exactly this plan (docs/protocol.md, Plans)."""

    plan_id: Optional[str] = None
    fingerprint: Optional[str] = None


def _canonical(value: Any) -> Any:
    """State as plain, secret-free data: a fingerprint is shown to the caller, so a secret
    must not be recoverable from it by guessing."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_canonical(v) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, (set, frozenset)) else items
    if hasattr(value, "model_dump"):
        return _canonical(value.model_dump())
    if hasattr(value, "__dataclass_fields__"):
        return _canonical(vars(value))
    return value


def fingerprint(state: Any) -> str:
    text = json.dumps(_canonical(state), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def number(actions: Iterable[Action]) -> list[Action]:
    """Give each action its id (a1, a2, ... in plan order); positional, so the same state
    planned twice gives the same ids in any process."""
    return [a.model_copy(update={"id": f"a{i}"}) for i, a in enumerate(actions, start=1)]


def new_plan(actions: Iterable[Action], state: Any) -> Plan:
    actions = list(actions)
    if any(not a.id for a in actions):
        actions = number(actions)
    return Plan(id=uuid.uuid4().hex[:12], fingerprint=fingerprint(state), actions=actions)


def select(plan: Plan, confirm: Optional[Iterable[str]]) -> tuple[list[Action], list[Action]]:
    """(run, skipped): the confirmed actions whose dependencies all run too, in plan order.
    None confirms everything. An unknown id is the caller's mistake."""
    if confirm is None:
        return list(plan.actions), []
    wanted = set(confirm)
    known = {a.id for a in plan.actions}
    unknown = sorted(wanted - known)
    if unknown:
        from prefectwin.errors import InvalidRequest

        raise InvalidRequest(
            f"apply.confirm names action(s) {', '.join(unknown)}, which plan {plan.id} does not have.",
            target="apply.confirm",
            remediation="Confirm only the ids of the plan's actions (the whatIf answer lists them).",
        )
    running: set[str] = set()
    run, skipped = [], []
    for action in plan.actions:
        if action.id in wanted and all(d in running for d in action.depends_on):
            running.add(action.id)
            run.append(action)
        else:
            skipped.append(action)
    return run, skipped


def shown(plan: Plan) -> dict[str, Any]:
    """The plan as the caller saw it: what a re-plan must reproduce exactly."""
    return {
        "fingerprint": plan.fingerprint,
        "actions": [
            {"id": a.id, "kind": a.kind, "description": a.description, "target": a.target, "dependsOn": list(a.depends_on)}
            for a in plan.actions
        ],
    }
