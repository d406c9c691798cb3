"""Applying repair plans through the system adapter (and, for PREFECT_API_URL, through
Prefect's profile API in the target interpreter). Each fix is its own unit: its actions are
undone if a later one of them fails, and a failed fix does not stop (or undo) the others,
which are independent repairs of independent checks."""
from __future__ import annotations

from typing import Any, Callable, Optional

from prefectwin.errors import PrefectWinError
from prefectwin.settings.apply import run_steps
from prefectwin.settings.plan import Action
from prefectwin.settings.repair import FixPlan, RepairResult

Undo = Optional[Callable[[], None]]


def _step(action: Action, adapter: Any, profile_writer: Callable[[str, str], None]) -> Undo:
    data = action.data
    if action.kind == "path.add":
        adapter.set_user_path(data["raw"])
        return lambda: adapter.set_user_path(data["previous"])
    if action.kind == "environment.set":
        adapter.set_environment_variable(action.name, data["value"], action.scope)
        return lambda: adapter.set_environment_variable(action.name, data["previous"], action.scope)
    if action.kind == "execution-policy.set":
        adapter.set_current_user_execution_policy(data["policy"])
        return lambda: adapter.set_current_user_execution_policy(data["previous"])
    if action.kind == "defender.exclude":
        adapter.add_defender_exclusions(data["paths"])
        return lambda: adapter.remove_defender_exclusions(data["paths"])
    if action.kind == "long-paths.enable":
        adapter.set_long_paths_enabled(True)
        return lambda: adapter.set_long_paths_enabled(False)
    if action.kind == "firewall.add":
        adapter.add_firewall_rule(data["name"], data["port"])
        return lambda: adapter.remove_firewall_rule(data["name"])
    if action.kind == "profile.set":
        profile_writer(action.name, data["value"])
        return None
    raise ValueError(f"unknown repair action {action.kind}")


def apply_fix(result: RepairResult, plan: FixPlan, adapter: Any, profile_writer: Callable[[str, str], None]) -> RepairResult:
    try:
        run_steps([(a.description, (lambda a=a: _step(a, adapter, profile_writer))) for a in plan.actions])
    except PrefectWinError as exc:
        return result.model_copy(update={"status": "Failed", "reason": exc.message})
    except Exception as exc:  # noqa: BLE001 - one fix failing is reported; the others go on
        return result.model_copy(update={"status": "Failed", "reason": f"{type(exc).__name__}: {exc}"})
    return result.model_copy(update={"status": "Changed", "reason": None})


def _profile_writer(params: Any) -> Callable[[str, str], None]:
    """Writes a setting into the active profile of the target, as the diagnosis saw it (same
    PREFECT_HOME pin and working directory). The target is started on first use only."""
    import os

    from prefectwin.diagnosis.probe import probe_environment
    from prefectwin.settings.target import open_session

    def write(name: str, value: str) -> None:
        home = params.prefect_home
        cwd = home if home and os.path.isdir(home) else None
        with open_session(params.python_path, None, env=probe_environment(home), cwd=cwd) as session:
            session.ask("profile-update", set={name: value})

    return write


def run_repair(params: Any, ctx: Any, diagnose: Callable[[Any, Any], list], adapter: Any) -> Any:
    """environment.repair: diagnose, plan a fix per failing/warning check, apply (unless
    whatIf), mirror user-level variables into this session, and re-run the fixed checks."""
    import os

    from prefectwin.settings.plan import EnvironmentAssignment
    from prefectwin.settings.repair import FIXABLE, RepairContext, RepairReport, plan_repair

    activity = "Repairing the Prefect environment"
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
    for result, _ in planned:
        for action in result.actions:
            ctx.events.verbose(("What if: " if ctx.what_if else "") + action.description)
        if result.status == "Skipped":
            ctx.events.verbose(f"{result.check}: skipped ({result.reason}).")
    if ctx.what_if:
        return RepairReport(changed=False, actions=[a for r, _ in planned for a in r.actions], results=[r for r, _ in planned])

    writer = _profile_writer(params)
    results, session_env = [], {}
    for index, (result, plan) in enumerate(planned):
        if plan.actions:
            ctx.events.progress(activity, result.fix or result.check, int(100 * index / max(len(planned), 1)))
            result = apply_fix(result, plan, adapter, writer)
        if result.status != "Failed":
            session_env.update(plan.environment)
        results.append(result)
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
    )
