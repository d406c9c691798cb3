"""environment.repair: diagnose, plan a fix per check (settings/repair.py), then apply the
confirmed fixes through the change engine. Each fix is its own unit: its actions are undone if a
later one of them fails, and a failed fix does not stop (or undo) the others, which are
independent repairs of independent checks."""
from __future__ import annotations

from typing import Any, Callable


def run_repair(params: Any, ctx: Any, diagnose: Callable[[Any, Any], list], adapter: Any) -> Any:
    """environment.repair: diagnose, plan a fix per failing/warning check, apply (unless
    whatIf), mirror user-level variables into this session, and re-run the fixed checks."""
    import os

    from prefectwin.change import session
    from prefectwin.change.model import fingerprint, new_plan
    from prefectwin.settings.repair import FIXABLE, RepairContext, RepairReport, plan_repair

    before = diagnose(params, ctx)
    is_windows = adapter.name == "windows"
    wanted = {r.check for r in before if r.check in FIXABLE and r.status in ("Fail", "Warning")}
    user_path = (None, None)
    if is_windows and "prefect.cli-on-path" in wanted:
        user_path = adapter.get_user_path()
    context = RepairContext(
        is_windows=is_windows,
        is_admin=bool(is_windows and adapter.is_admin()),
        role=params.role,
        user_path=user_path[0],
        user_path_expanded=user_path[1],
        user_pythonioencoding=adapter.get_environment_variable("PYTHONIOENCODING", "User") if is_windows and "encoding" in wanted else None,
        process_path=os.environ.get("PATH", ""),
        path_separator=os.pathsep,
    )
    planned = plan_repair(before, context)
    # One plan for all fixes: ids across the whole plan, each fix's actions chained.
    numbered, next_id = [], 1
    for result, fix in planned:
        actions = []
        for action in fix.actions:
            actions.append(action.model_copy(update={"id": f"a{next_id}", "depends_on": [actions[-1].id] if actions else []}))
            next_id += 1
        fix.actions = actions
        numbered.append((result.model_copy(update={"actions": actions}), fix))
    planned = numbered
    for result, _ in planned:
        for action in result.actions:
            ctx.events.verbose(("What if: " if ctx.what_if else "") + action.description)
        if result.status == "Skipped":
            ctx.events.verbose(f"{result.check}: skipped ({result.reason}).")

    def cheap_state() -> dict:
        state = {"planned": [[a.model_dump(mode="json") for a in r.actions] for r, _ in planned]}
        if is_windows and "prefect.cli-on-path" in wanted:
            state["userPath"] = adapter.get_user_path()[0]
        if "encoding" in wanted and is_windows:
            state["userEncoding"] = adapter.get_environment_variable("PYTHONIOENCODING", "User")
        return state

    plan = new_plan([a for r, _ in planned for a in r.actions], cheap_state())
    proposal = session.Proposal(
        plan=plan,
        recheck=lambda: fingerprint(cheap_state()),
        show=lambda p: RepairReport(
            changed=False, actions=p.actions, results=[r for r, _ in planned], plan_id=p.id, fingerprint=p.fingerprint
        ),
        execute=lambda p, confirm, run_ctx: _apply_fixes(p, confirm, run_ctx, params, planned, wanted, diagnose, adapter),
    )
    return session.offer(ctx, proposal)


def _apply_fixes(plan: Any, confirm: Any, ctx: Any, params: Any, planned: list, wanted: set, diagnose: Callable[[Any, Any], list], adapter: Any) -> Any:
    import os

    from prefectwin.change import engine
    from prefectwin.change.model import Plan, select
    from prefectwin.errors import PrefectWinError
    from prefectwin.settings.plan import EnvironmentAssignment
    from prefectwin.settings.repair import RepairReport
    from prefectwin.settings.steps import STEPS, Runtime

    activity = "Repairing the Prefect environment"
    chosen = {a.id for a in select(plan, confirm)[0]}
    runtime = Runtime(adapter=adapter, python_path=params.python_path, prefect_home=params.prefect_home)
    results, session_env = [], {}
    try:
        for index, (result, fix) in enumerate(planned):
            run = [a for a in fix.actions if a.id in chosen]
            if fix.actions and not run:
                result = result.model_copy(update={"status": "Skipped", "reason": "not confirmed"})
            elif run:
                ctx.events.progress(activity, result.fix or result.check, int(100 * index / max(len(planned), 1)))
                try:
                    engine.apply(
                        Plan(id=f"{plan.id}-{index}", fingerprint=plan.fingerprint, actions=run),
                        steps=STEPS,
                        runtime=runtime,
                        events=ctx.events,
                        command="environment.repair",
                        summary=f"Repair-PrefectEnvironment: {result.fix or result.check}",
                        context={"pythonPath": params.python_path, "prefectHome": params.prefect_home},
                        activity=activity,
                    )
                    result = result.model_copy(update={"status": "Changed", "reason": None})
                except PrefectWinError as exc:
                    result = result.model_copy(update={"status": "Failed", "reason": exc.message})
                except Exception as exc:  # noqa: BLE001 - one fix failing is reported; the others go on
                    result = result.model_copy(update={"status": "Failed", "reason": f"{type(exc).__name__}: {exc}"})
            if result.status not in ("Failed",) and not (fix.actions and not run):
                session_env.update(fix.environment)
            results.append(result)
    finally:
        runtime.close()
    os.environ.update({k: v for k, v in session_env.items() if v is not None})
    fixed = [r.check for r in results if r.status == "Changed" or (r.check in wanted and r.status == "Skipped" and r.reason and r.reason.startswith("nothing to do"))]
    if fixed:
        ctx.events.progress(activity, "Running the repaired checks again", 90)
        after = {r.check: r.status for r in diagnose(params.model_copy(update={"check": fixed}), ctx)}
        results = [r.model_copy(update={"after": after.get(r.check)}) if r.check in after else r for r in results]
    ctx.events.progress(activity, "Done", 100)
    return RepairReport(
        changed=any(r.status == "Changed" for r in results),
        actions=[a for r in results if r.status == "Changed" for a in r.actions],
        results=results,
        environment=[EnvironmentAssignment(name=k, value=v) for k, v in session_env.items()],
        plan_id=plan.id,
        fingerprint=plan.fingerprint,
    )
