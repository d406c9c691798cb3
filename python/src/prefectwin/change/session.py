"""Plans by id: what a whatIf answer showed is what apply runs.

A state-changing command builds a `Proposal` (its plan, how to re-read the cheap state the
plan's fingerprint covers, how to show it, how to carry it out) and hands it to `offer`:
- with whatIf, the proposal is kept in this process by plan id, and the plan is shown;
- an apply whose planId this process keeps (a `serve` session) never reaches the command:
  rpc calls `apply_stored`, which re-reads only the fingerprinted state, refuses with
  PlanStale if it changed, and runs the kept plan, with no second probe of the target;
- an apply whose planId is unknown here (a one-shot process, a new session) reaches the command,
  which plans again; `offer` refuses with PlanStale unless the new plan is the one shown
  (`apply.plan`), and then runs it;
- a request without `apply` (an older client, DSC) runs the plan it makes.
`apply.confirm` lists the confirmed action ids; a declined action skips whatever depends on it.
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Optional

from prefectwin.change.model import Plan, shown
from prefectwin.errors import PlanStale

MAX_KEPT = 32
REMEDIATION = "Run the command again: it plans from the machine as it is now, and shows that plan first."


@dataclass
class Proposal:
    plan: Plan
    #: the fingerprint of the planned-from state as it is now (cheap reads, no target probe)
    recheck: Callable[[], str]
    #: the whatIf result
    show: Callable[[Plan], Any]
    #: carries out the plan's confirmed actions (None: all) and returns the result
    execute: Callable[[Plan, Optional[list[str]], Any], Any]


_KEPT: "OrderedDict[str, tuple[str, str, Proposal]]" = OrderedDict()


def params_key(params: Any) -> str:
    """A digest of the request's params, secrets included; kept in memory only."""
    text = json.dumps(params or {}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _confirm(ctx: Any) -> Optional[list[str]]:
    return None if ctx.apply is None else ctx.apply.confirm


def offer(ctx: Any, proposal: Proposal) -> Any:
    if ctx.what_if:
        command, key = ctx.request or ("", "")
        _KEPT[proposal.plan.id] = (command, key, proposal)
        while len(_KEPT) > MAX_KEPT:
            _KEPT.popitem(last=False)
        return proposal.show(proposal.plan)
    if ctx.apply is not None and ctx.apply.plan is not None:
        _same_as_shown(ctx.apply.plan, proposal.plan)
    return proposal.execute(proposal.plan, _confirm(ctx), ctx)


def _same_as_shown(seen: Any, plan: Plan) -> None:
    now = shown(plan)
    before = {
        "fingerprint": seen.fingerprint,
        "actions": [
            {"id": a.id, "kind": a.kind, "description": a.description, "target": a.target, "dependsOn": list(a.depends_on)}
            for a in seen.actions
        ],
    }
    if now == before:
        return
    if now["actions"] != before["actions"]:
        what = f"planning again gives {len(now['actions'])} action(s) where {len(before['actions'])} were shown"
        changed = [a["description"] for a in now["actions"] if a not in before["actions"]]
        if changed:
            what += f", first different: {changed[0]}"
    else:
        what = "the state it was planned from has changed"
    raise PlanStale(f"The machine changed since the plan was shown: {what}. Nothing was changed.", target="apply.plan", remediation=REMEDIATION)


def kept(plan_id: str) -> bool:
    return plan_id in _KEPT


def apply_stored(ctx: Any) -> Any:
    """Run the kept plan `ctx.apply.planId` (rpc calls this instead of the command)."""
    plan_id = ctx.apply.plan_id
    made_for, key, proposal = _KEPT.pop(plan_id)
    if (made_for, key) != tuple(ctx.request or ()):
        raise PlanStale(
            f"Plan {plan_id} was made for another request ({made_for}, other parameters); nothing was changed.",
            target="apply.planId",
            remediation=REMEDIATION,
        )
    if proposal.recheck() != proposal.plan.fingerprint:
        raise PlanStale(
            f"The machine changed since plan {plan_id} was shown; nothing was changed.",
            target="apply.planId",
            remediation=REMEDIATION,
        )
    return proposal.execute(proposal.plan, _confirm(ctx), ctx)


def forget_all() -> None:
    _KEPT.clear()
