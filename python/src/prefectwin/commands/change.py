"""`change.*`: changes that a killed backend left half done (change/recovery.py).

- `change.pending` Get-PrefectPendingChange     the interrupted changes, from the journal
- `change.resume`  Resume-PrefectPendingChange  finish one: the steps not done
- `change.undo`    Undo-PrefectPendingChange    roll one back: undo the steps done, last first
- `change.forget`  Remove-PrefectPendingChange  drop its record, changing nothing else
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from prefectwin.change.recovery import ChangeRecovery, PendingChange
from prefectwin.models import Params
from prefectwin.registry import Context, command


class ChangePendingParams(Params):
    pass


class ChangeRecoveryParams(Params):
    plan_id: Optional[str] = Field(None, min_length=1, max_length=64, description="The interrupted change's plan id; default: the only one.")


@command("change.pending", params=ChangePendingParams, result=list[PendingChange])
def change_pending(params: ChangePendingParams, ctx: Context) -> list[PendingChange]:
    """The changes a killed backend left half done, from the journal in PrefectWin's data folder."""
    from prefectwin.change.recovery import _visible, describe

    return [describe(j) for j in _visible()]


def _recover(params: ChangeRecoveryParams, ctx: Context, operation: str, name: str) -> ChangeRecovery:
    from prefectwin.change import engine, recovery, session

    journal = recovery.find(params.plan_id)
    plan, refused = recovery.plan_for(journal, operation)
    for reason in refused:
        ctx.events.warning(f"Not reversible: {reason}.")
    summary = journal.record.get("summary", "")
    original = journal.record["planId"]

    def show(p, run=None, changed=False) -> ChangeRecovery:
        return ChangeRecovery(
            pending_plan_id=original,
            summary=summary,
            operation=operation,
            changed=changed,
            what_if=ctx.what_if,
            actions=p.actions if run is None else run,
            not_reversible=refused,
            plan_id=p.id,
            fingerprint=p.fingerprint,
        )

    def execute(p, confirm, run_ctx) -> ChangeRecovery:
        if operation == "forget":
            ran = p.actions if confirm is None or "a1" in confirm else []
            if ran:
                recovery.forget(journal)
            return show(p, ran, bool(ran))
        steps = recovery.steps_of(journal)
        ran = engine.apply(
            p,
            steps=recovery.tolerant(steps) if operation == "undo" else steps,
            runtime=recovery.runtime_of(journal),
            events=run_ctx.events,
            confirm=confirm,
            command=name,
            summary=f"{'Undo' if operation == 'undo' else 'Finish'} of {summary}",
            context=journal.record.get("context") or {},
            replaces=original,
            activity=f"{'Rolling back' if operation == 'undo' else 'Finishing'} {summary}",
        )
        if ran and len(ran) == len(p.actions):
            recovery.forget(journal)
        elif not p.actions:
            recovery.forget(journal)
        return show(p, ran, bool(ran))

    proposal = session.Proposal(
        plan=plan,
        recheck=lambda: recovery.fingerprint({"record": recovery.journal_state(journal)}),
        show=show,
        execute=execute,
    )
    return session.offer(ctx, proposal)


@command("change.resume", params=ChangeRecoveryParams, result=ChangeRecovery, changes_state=True)
def change_resume(params: ChangeRecoveryParams, ctx: Context) -> ChangeRecovery:
    """Finish a change a killed backend left half done: run the steps it had not done."""
    return _recover(params, ctx, "resume", "change.resume")


@command("change.undo", params=ChangeRecoveryParams, result=ChangeRecovery, changes_state=True)
def change_undo(params: ChangeRecoveryParams, ctx: Context) -> ChangeRecovery:
    """Roll back a change a killed backend left half done: undo the steps it had done, last first."""
    return _recover(params, ctx, "undo", "change.undo")


@command("change.forget", params=ChangeRecoveryParams, result=ChangeRecovery, changes_state=True)
def change_forget(params: ChangeRecoveryParams, ctx: Context) -> ChangeRecovery:
    """Drop the record of an interrupted change, changing nothing else (after fixing it by hand)."""
    return _recover(params, ctx, "forget", "change.forget")
