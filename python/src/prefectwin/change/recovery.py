"""What a killed backend left: report it, finish it, or roll it back.

A journal record (journal.py) lists the actions of an apply and which of them were started and
done. Undoing builds the inverse of every done step, and of a step that was cut while in
progress (it may or may not have happened: its undo is tolerant), in reverse order; finishing
runs the steps not done, a cut step again (each step kind is safe to repeat; installing a
service that is there already is skipped). Both are plans of their own, shown and confirmed like
any other and run by the same engine under a journal record of their own, which supersedes the
original until it completes. A step that would need a secret the journal does not keep is
refused with the command to run again instead.
"""
from __future__ import annotations

import importlib
import os
from typing import Any, Optional

from pydantic import Field

from prefectwin.change.engine import NotReversible, Steps
from prefectwin.change.journal import Journal, contains_secret, pending
from prefectwin.change.model import Action, Planned, fingerprint, new_plan  # noqa: F401 - fingerprint for commands/change.py
from prefectwin.errors import InvalidArgument, NotFound
from prefectwin.models import Result

WHAT_TO_RUN = "Run Get-PrefectPendingChange to see it, then Resume-PrefectPendingChange to finish it or Undo-PrefectPendingChange to roll it back."


class PendingChange(Result):
    """PSTypeName PrefectWin.PendingChange."""

    plan_id: str
    command: str
    summary: str
    started_at: Optional[str] = None
    process_id: Optional[int] = None
    steps_done: int
    steps_total: int
    cut_during: Optional[str] = None
    recovers: Optional[str] = None
    actions: list[Action] = Field(default_factory=list)


class ChangeRecovery(Planned):
    """PSTypeName PrefectWin.ChangeRecovery: what finishing, undoing or forgetting did (or, with
    whatIf, would do)."""

    pending_plan_id: str
    summary: str
    operation: str
    changed: bool
    what_if: bool
    actions: list[Action]
    not_reversible: list[str] = Field(default_factory=list)


def _visible() -> list[Journal]:
    records = pending()
    superseded = {r.record.get("replaces") for r in records}
    return [r for r in records if r.record["planId"] not in superseded]


def describe(journal: Journal) -> PendingChange:
    record = journal.record
    progress = record.get("progress", {})
    actions = [Action.model_validate(a) for a in record["actions"]]
    cut = next((a.description for a in actions if progress.get(a.id) == "started"), None)
    return PendingChange(
        plan_id=record["planId"],
        command=record.get("command", ""),
        summary=record.get("summary", ""),
        started_at=record.get("startedAt"),
        process_id=record.get("pid"),
        steps_done=sum(1 for a in actions if progress.get(a.id) == "done"),
        steps_total=len(actions),
        cut_during=cut,
        recovers=record.get("replaces"),
        actions=actions,
    )


def pending_warnings() -> list[str]:
    warnings = []
    for journal in _visible():
        change = describe(journal)
        text = (
            f"A change was interrupted before it finished: {change.summary} (plan {change.plan_id}, "
            f"{change.steps_done} of {change.steps_total} step(s) done"
        )
        if change.cut_during:
            text += f"; cut during: {change.cut_during}"
        warnings.append(text + "). " + WHAT_TO_RUN)
    return warnings


def find(plan_id: Optional[str]) -> Journal:
    records = _visible()
    if plan_id:
        match = [r for r in records if r.record["planId"] == plan_id]
        if not match:
            raise NotFound(
                f"No interrupted change has plan id '{plan_id}'.",
                target="params.planId",
                remediation="Get-PrefectPendingChange lists the interrupted changes and their plan ids.",
            )
        return match[0]
    if not records:
        raise NotFound("No change was interrupted: there is nothing to finish or roll back.", target="params.planId", remediation="Nothing to do.")
    if len(records) > 1:
        raise InvalidArgument(
            f"{len(records)} changes were interrupted ({', '.join(r.record['planId'] for r in records)}); which one?",
            target="params.planId",
            remediation="Give -PlanId (Get-PrefectPendingChange lists them).",
        )
    return records[0]


def steps_of(journal: Journal) -> Steps:
    module = journal.record["steps"]
    if not module.startswith("prefectwin."):
        raise InvalidArgument(f"The journal record {journal.path} names no PrefectWin step set.", target="params.planId")
    return importlib.import_module(module).STEPS


def runtime_of(journal: Journal) -> Any:
    return importlib.import_module(journal.record["steps"]).runtime(journal.record.get("context") or {})


def _actions(journal: Journal) -> list[Action]:
    return [Action.model_validate(a) for a in journal.record["actions"]]


def undo_actions(journal: Journal) -> tuple[list[Action], list[str]]:
    """The undo steps in the order they run, and the steps that cannot be undone (why)."""
    steps = steps_of(journal)
    progress = journal.record.get("progress", {})
    touched = [a for a in _actions(journal) if progress.get(a.id) in ("started", "done")]
    undos, refused = [], []
    for action in reversed(touched):
        cut = progress.get(action.id) == "started"
        try:
            undo = steps.inverse(action)
        except NotReversible as why:
            refused.append(f"{action.description}: {why}")
            continue
        if undo is None:
            continue
        if contains_secret(undo.data):
            refused.append(f"{action.description}: undoing it needs a secret, which the journal does not keep")
            continue
        undos.append(undo.model_copy(update={"data": {**undo.data, "ifDone": cut}}))
    undos.sort(key=lambda a: a.kind in steps.run_last)
    return undos, refused


def resume_actions(journal: Journal) -> list[Action]:
    progress = journal.record.get("progress", {})
    done = {a for a, state in progress.items() if state == "done"}
    remaining = []
    for action in _actions(journal):
        if action.id in done:
            continue
        if contains_secret(action.data):
            raise InvalidArgument(
                f"Finishing '{journal.record.get('summary')}' needs a secret for '{action.description}', which the journal does not keep.",
                target="params.planId",
                remediation=f"Run the original command ({journal.record.get('command')}) again, which plans from the machine as it is now, "
                "then Remove-PrefectPendingChange to drop this record.",
            )
        data = {**action.data, "resuming": progress.get(action.id) == "started"}
        remaining.append(action.model_copy(update={"data": data, "depends_on": [d for d in action.depends_on if d not in done]}))
    return remaining


def tolerant(steps: Steps) -> Steps:
    """The step set for undoing: an undo of a step that may never have happened may fail."""

    def perform(action: Action, runtime: Any) -> None:
        try:
            steps.perform(action, runtime)
        except Exception:  # noqa: BLE001 - the cut step had not been done, so there was nothing to undo
            if not action.data.get("ifDone"):
                raise

    return Steps(module=steps.module, perform=perform, inverse=steps.inverse, run_last=steps.run_last, undo_when_failed=steps.undo_when_failed)


def journal_state(journal: Journal) -> str:
    """What a recovery plan's fingerprint covers: the record as it is on disk now."""
    import json

    try:
        with open(journal.path, encoding="utf-8") as handle:
            return fingerprint(json.load(handle))
    except (OSError, ValueError):
        return "gone"


def plan_for(journal: Journal, operation: str) -> tuple[Any, list[str]]:
    refused: list[str] = []
    if operation == "undo":
        actions, refused = undo_actions(journal)
    elif operation == "resume":
        actions = resume_actions(journal)
    else:
        actions = [Action(kind="forget-record", description=f"Forget the record of '{journal.record.get('summary')}' (plan {journal.record['planId']}) without changing anything else", target=journal.path)]
    # Recovery actions keep their own ids only for undo/forget; resumed steps keep the original ids.
    if operation != "resume":
        actions = [a.model_copy(update={"id": f"a{i}", "depends_on": []}) for i, a in enumerate(actions, start=1)]
    plan = new_plan(actions, {"record": journal_state(journal)})
    return plan, refused


def forget(journal: Journal) -> None:
    try:
        os.remove(journal.path)
    except FileNotFoundError:
        pass
