"""Pure planners: (desired spec, current state) -> the ordered actions that reach it.

Nothing here touches the operating system. Each action (change.model.Action) carries a human
description (for ShouldProcess and -WhatIf), the ids of the actions it needs (dependsOn) and,
excluded from the wire, the data services/steps.py needs to carry it out and to undo it. Descriptions never contain a password: secret values are masked, URL
passwords are masked, and values of variables whose names look secret are masked.
"""
from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from pydantic import SecretStr

from prefectwin.errors import InvalidArgument
from prefectwin.change.model import Action, number
from prefectwin.secrets import MASK, is_secret_name, mask_url
from prefectwin.services import firewall, grants
from prefectwin.services.grants import Grant
from prefectwin.services.spec import LOCAL_SYSTEM, SECRET_KEYS, ServiceSpec, Value, firewall_rule_name, log_task_name, normalize_account
from prefectwin.services.state import STOPPED, ServiceRecord, ServiceState


# Parameters the Service Control Manager applies at once; everything else NSSM reads when
# it starts the application, so changing it needs a restart of a running service.
NO_RESTART_PARAMETERS = frozenset({"DisplayName", "Description", "Start", "DependOnService"})
# Compared as sets: their order carries no meaning.
UNORDERED_PARAMETERS = frozenset({"AppEnvironmentExtra", "DependOnService"})


# -- showing values without secrets ---------------------------------------------------------
def reveal(values: tuple[Value, ...]) -> tuple[str, ...]:
    return tuple(v.get_secret_value() if isinstance(v, SecretStr) else v for v in values)


def _env_map(values: tuple[str, ...]) -> dict[str, str]:
    pairs = (entry.partition("=") for entry in values)
    return {key: value for key, _, value in pairs}


def show_variable(key: str, value: str) -> str:
    if key in SECRET_KEYS or is_secret_name(key):  # the target release's SecretStr names
        return MASK
    return mask_url(value) or ""


def _show_values(values: tuple[str, ...]) -> str:
    return " ".join(f"'{mask_url(v)}'" for v in values) if values else "(none)"


def _comparable(parameter: str, values: tuple[str, ...]) -> tuple[str, ...]:
    if parameter == "DependOnService":
        return tuple(sorted(v.lower() for v in values))
    if parameter in UNORDERED_PARAMETERS:
        return tuple(sorted(values))
    return values


def _describe_environment(name: str, desired: tuple[str, ...], previous: Optional[tuple[str, ...]]) -> str:
    want, had = _env_map(desired), _env_map(previous or ())
    changed = [k for k in want if had.get(k) != want[k]]
    removed = [k for k in had if k not in want]
    parts = []
    if changed:
        parts.append("set " + ", ".join(f"{k}={show_variable(k, want[k])}" for k in changed))
    if removed:
        parts.append("remove " + ", ".join(removed))
    return f"Set the environment (AppEnvironmentExtra) of service '{name}', {len(want)} variables: {'; '.join(parts) or 'reorder'}"


def _describe_set(name: str, parameter: str, desired: tuple[str, ...], previous: Optional[tuple[str, ...]]) -> str:
    if parameter == "AppEnvironmentExtra":
        return _describe_environment(name, desired, previous)
    text = f"Set {parameter} of service '{name}' to {_show_values(desired)}"
    if previous:
        text += f" (was {_show_values(previous)})"
    return text


# -- install ---------------------------------------------------------------------------------
def _set_parameter(spec: ServiceSpec, parameter: str, values: tuple[Value, ...], previous: Optional[tuple[str, ...]], new: bool) -> Action:
    plain = reveal(values)
    if not values:
        return Action(
            kind="reset-parameter",
            description=f"Reset {parameter} of service '{spec.name}' to NSSM's default (was {_show_values(previous or ())})",
            target=spec.name,
            parameter=parameter,
            data={"previous": previous, "newService": new},
        )
    return Action(
        kind="set-parameter",
        description=_describe_set(spec.name, parameter, plain, previous),
        target=spec.name,
        parameter=parameter,
        data={"values": values, "previous": previous, "newService": new},
    )


def _check_takeover(spec: ServiceSpec, record: ServiceRecord, force: bool) -> None:
    if not record.is_nssm:
        raise InvalidArgument(
            f"Service '{spec.name}' exists and is not an NSSM service; PrefectWin will not change it.",
            target="Name",
            remediation="Choose another -Name, or remove that service first.",
        )
    if record.managed is None and not force:
        raise InvalidArgument(
            f"Service '{spec.name}' exists and is not managed by PrefectWin.",
            target="Name",
            remediation="Choose another -Name, or add -Force to take it over (its NSSM settings will be replaced).",
        )


def plan_install(spec: ServiceSpec, state: ServiceState, *, start: bool = False, force: bool = False) -> list[Action]:
    """The actions that make the machine match `spec`. Empty when it already does."""
    record = state.record
    new = record is None
    if record is not None:
        _check_takeover(spec, record, force)
    actions: list[Action] = []

    for path in dict.fromkeys((spec.prefect_home, spec.log_directory, *spec.modify_directories)):
        if not state.directories.get(path):
            actions.append(Action(kind="create-directory", description=f"Create directory '{path}'", target=path, data={"path": path}))

    current = dict(record.parameters) if record else {}
    if new:
        actions.append(
            Action(
                kind="install-service",
                description=f"Install service '{spec.name}' that runs '{spec.application}' through NSSM as {spec.account}",
                target=spec.name,
                data={"application": spec.application},
            )
        )
        current = {"Application": (spec.application,)}
    # After the install: the file's ACL names the service's account, and a virtual account
    # (NT SERVICE\<name>) resolves only once its service exists.
    actions.extend(plan_secrets_file(spec, state))
    actions.extend(plan_launcher(spec, state))

    needs_restart = False
    for parameter, values in spec.nssm_parameters().items():
        have = current.get(parameter)
        if _comparable(parameter, reveal(values)) == _comparable(parameter, have or ()):
            continue
        if not values and not have:
            continue
        actions.append(_set_parameter(spec, parameter, values, None if new else have, new))
        needs_restart |= parameter not in NO_RESTART_PARAMETERS

    account_action = _plan_account(spec, current.get("ObjectName"), new, force)
    if account_action is not None:
        actions.append(account_action)
        needs_restart = True

    grant_actions, recorded = plan_grants(spec, state)
    marker = marker_text(spec, recorded)
    if new or record.marker != marker:
        actions.append(
            Action(
                kind="write-marker",
                description=f"Mark service '{spec.name}' as a PrefectWin {spec.role.lower()}",
                target=spec.name,
                data={"text": marker, "previous": None if new else record.marker, "newService": new},
            )
        )
    actions.extend(grant_actions)

    actions.extend(_plan_firewall(spec, state.firewall_port, state.firewall_scope))
    failure = _plan_failure_actions(spec, current.get("FailureActions"), new)
    if failure is not None:
        actions.append(failure)
    actions.extend(plan_prune(spec.name, state.rotated_logs, keep=spec.retention_count, days=spec.retention_days, now=state.now))
    task = _plan_log_task(spec, state.log_task)
    if task is not None:
        actions.append(task)

    stale = _plan_stale_secrets_file(spec, state)
    if stale is not None:
        actions.append(stale)
    stale_launcher = _plan_stale_launcher(spec, state)
    if stale_launcher is not None:
        actions.append(stale_launcher)
    needs_restart |= any(a.kind in ("write-secrets-file", "write-launcher") for a in actions)

    timeout = spec.stop_timeout_ms // 1000 + 30
    if record is not None and record.running and needs_restart:
        actions.append(
            Action(
                kind="restart-service",
                description=f"Restart service '{spec.name}' so the changes take effect",
                target=spec.name,
                data={"timeoutSec": timeout},
            )
        )
    elif start and (record is None or not record.running):
        actions.append(Action(kind="start-service", description=f"Start service '{spec.name}'", target=spec.name, data={"timeoutSec": timeout}))
    return link_install(number(actions), spec.name)


# -- the secrets file --------------------------------------------------------------------------
def _file_entries(text: Optional[str]) -> dict[str, str]:
    """KEY -> its line, for the `KEY = "value"` lines of a secrets file (spec.secrets_text)."""
    found = {}
    for line in (text or "").splitlines():
        key, sep, _ = line.partition(" = ")
        if sep and not line.startswith(("#", "[", "active ")):
            found[key.strip('"')] = line
    return found


def plan_secrets_file(spec: ServiceSpec, state: ServiceState) -> list[Action]:
    """Write the service's secrets file when it is missing, holds other values, or others can
    read it. The description names the settings that change, never a value."""
    path, wanted = spec.secrets_file, spec.secrets_text()
    if not path or wanted is None:
        return []
    if state.secrets_file_current and not state.secrets_file_problems:
        return []
    previous = state.secrets_file
    want = _file_entries(wanted.get_secret_value())
    had = _file_entries(previous.get_secret_value() if previous is not None else None)
    readers = f"readable only by {spec.account_principal}, SYSTEM and Administrators"
    if state.secrets_file_unreadable:
        description = f"Rewrite the secrets file '{path}' of service '{spec.name}' ({', '.join(want)}; this session cannot read it to compare), {readers}"
    elif previous is None:
        description = f"Write the secrets file '{path}' of service '{spec.name}' ({', '.join(want)}), {readers}"
    elif not state.secrets_file_current:
        changed = [k for k in want if had.get(k) != want[k]]
        removed = [k for k in had if k not in want]
        parts = ([f"new value of {', '.join(changed)}"] if changed else []) + ([f"remove {', '.join(removed)}"] if removed else [])
        description = f"Rewrite the secrets file '{path}' of service '{spec.name}' ({'; '.join(parts) or 'reformat'}), {readers}"
    else:
        description = f"Rewrite the secrets file '{path}' of service '{spec.name}' with its access list ({'; '.join(state.secrets_file_problems)}), {readers}"
    return [
        Action(
            kind="write-secrets-file",
            description=description,
            target=path,
            data={"path": path, "content": wanted, "reader": spec.account_principal, "previous": previous, "previousUnknown": state.secrets_file_unreadable},
        )
    ]


def plan_launcher(spec: ServiceSpec, state: ServiceState) -> list[Action]:
    """Write the launcher when it is missing, not PrefectWin's text, or anyone but SYSTEM and
    Administrators could change it (or others read it: it is written like the secrets file)."""
    path, wanted = spec.launcher_file, spec.launcher_text()
    if not path or wanted is None:
        return []
    if state.launcher_file_current and not state.launcher_file_problems:
        return []
    names = ", ".join(sorted(spec.secret_variables))
    access = f"changeable only by SYSTEM and Administrators, readable only by {spec.account_principal}"
    if state.launcher_file_unreadable:
        why = "this session cannot read it to compare"
    elif state.launcher_file is None:
        why = None
    elif not state.launcher_file_current:
        why = "it is not PrefectWin's launcher as this version writes it"
    else:
        why = "; ".join(state.launcher_file_problems)
    verb = "Write" if why is None else "Rewrite"
    description = f"{verb} the launcher '{path}' of service '{spec.name}', which sets {names} from its secrets file before Prefect starts" + (f" ({why})" if why else "") + f", {access}"
    return [
        Action(
            kind="write-launcher",
            description=description,
            target=path,
            data={"path": path, "content": wanted, "reader": spec.account_principal, "previous": state.launcher_file, "previousUnknown": state.launcher_file_unreadable},
        )
    ]


def _plan_stale_launcher(spec: ServiceSpec, state: ServiceState) -> Optional[Action]:
    """Delete a launcher the service no longer runs (kept for the undo)."""
    return _remove_stale(spec, "remove-launcher", "launcher", "runs", state.stale_launcher_file, state.stale_launcher_content, state.stale_launcher_unreadable)


def _plan_stale_secrets_file(spec: ServiceSpec, state: ServiceState) -> Optional[Action]:
    """Delete a secrets file the service no longer reads (kept for the undo)."""
    return _remove_stale(spec, "remove-secrets-file", "secrets file", "reads", state.stale_secrets_file, state.stale_secrets_content, state.stale_secrets_unreadable)


def _remove_stale(spec: ServiceSpec, kind: str, what: str, uses: str, path: Optional[str], content: Optional[SecretStr], unreadable: bool) -> Optional[Action]:
    if not path:
        return None
    return Action(
        kind=kind,
        description=f"Delete the {what} '{path}', which service '{spec.name}' no longer {uses}" + (" (this session cannot read it to keep a copy)" if unreadable else ""),
        target=path,
        data={"path": path, "previous": content, "reader": spec.account_principal, "previousUnknown": unreadable},
    )


def link_install(actions: list[Action], name: str) -> list[Action]:
    """dependsOn: everything done to the service needs it installed; a grant needs its folder;
    starting needs the service, its folders and their grants."""
    install = [a.id for a in actions if a.kind == "install-service"]
    folders = {a.target: a.id for a in actions if a.kind == "create-directory"}
    grants = [a.id for a in actions if a.kind == "grant-access"]
    # A service must not start without the secrets file it reads, nor its launcher.
    secrets = [a.id for a in actions if a.kind in ("write-secrets-file", "write-launcher")]
    linked = []
    for action in actions:
        needs: list[str] = []
        if action.target == name and action.kind != "install-service":
            needs += install
        if action.kind in ("grant-access", "revoke-access"):
            # A virtual account exists only once its service does.
            needs += install
        if action.kind == "grant-access" and action.target in folders:
            needs.append(folders[action.target])
        if action.kind in ("write-secrets-file", "write-launcher"):
            needs += install
            needs += [i for path, i in folders.items() if _inside(action.target, path)]
        if action.kind in ("remove-secrets-file", "remove-launcher"):
            # Only once the service no longer points at it (its environment, or its launcher's arguments).
            needs += [a.id for a in actions if a.kind in ("set-parameter", "reset-parameter") and a.parameter in ("AppEnvironmentExtra", "AppParameters")]
        if action.kind == "start-service":
            needs += [*folders.values(), *grants, *secrets]
        if action.kind == "restart-service":
            needs += secrets
        linked.append(action.model_copy(update={"depends_on": list(dict.fromkeys(needs))}))
    return linked


def _inside(path: str, folder: str) -> bool:
    sep = "\\" if "\\" in folder else "/"
    return path.lower().startswith(folder.rstrip(sep).lower() + sep)


def _plan_failure_actions(spec: ServiceSpec, have: Optional[tuple[str, ...]], new: bool) -> Optional[Action]:
    """The Service Control Manager's failure actions with their reset period (not NSSM's: the
    SCM acts when nssm.exe itself fails). Applied at once; no restart needed."""
    if not spec.failure_actions:
        return None
    wanted = spec.failure_values()
    if have == wanted:
        return None
    steps = ", ".join(f"{kind} after {delay // 1000} s" if kind != "none" else "then nothing" for kind, delay in spec.failure_actions)
    description = f"Set the failure actions of service '{spec.name}': {steps}; reset the count after {spec.failure_reset_sec} s without failures"
    if have:
        description += f" (was {' '.join(have)})"
    return Action(
        kind="set-failure-actions",
        description=description,
        target=spec.name,
        parameter="FailureActions",
        data={"resetSec": spec.failure_reset_sec, "actions": [list(a) for a in spec.failure_actions], "previous": list(have or ()), "newService": new},
    )


def _plan_log_task(spec: ServiceSpec, have: Optional[tuple[str, str]]) -> Optional[Action]:
    """The daily task that runs `prefectwin prune-logs <service>` as SYSTEM, so the retention
    holds while nobody runs PrefectWin (NSSM itself never deletes a rotated file)."""
    if not spec.prune_command:
        return None
    import subprocess

    wanted = (spec.prune_command[0], subprocess.list2cmdline(spec.prune_command[1:]))
    if have == wanted:
        return None
    name = log_task_name(spec.name)
    return Action(
        kind="register-task",
        description=f"Register the daily scheduled task '{name}' that deletes rotated logs of service '{spec.name}' beyond the retention",
        target=name,
        data={"task": name, "command": wanted[0], "arguments": wanted[1], "previous": list(have) if have else None},
    )


def plan_prune(name: str, rotated: dict[str, tuple[tuple[str, float], ...]], *, keep: int, days: int, now: float) -> list[Action]:
    """One remove-path per rotated log file beyond the retention (services/retention.py)."""
    from prefectwin.services.retention import expired

    actions = []
    rule = f"keep {keep}" + (f", at most {days} days old" if days else "")
    for log, copies in rotated.items():
        for path in expired(copies, keep=keep, days=days, now=now):
            actions.append(
                Action(
                    kind="remove-path",
                    description=f"Delete rotated log file '{path}' of service '{name}' (retention: {rule})",
                    target=path,
                    impact="Low",
                    data={"path": path, "retention": True},
                )
            )
    return actions


def _plan_account(spec: ServiceSpec, have: Optional[tuple[str, ...]], new: bool, force: bool) -> Optional[Action]:
    current = normalize_account(have[0])[0] if have else LOCAL_SYSTEM
    same = current.lower() == spec.account.lower()
    # A password cannot be read back: an unchanged account keeps its password unless -Force
    # asks to set the given one again (e.g. after a password rotation).
    if same and not (force and spec.account_password is not None and not new):
        return None
    description = f"Run service '{spec.name}' as {spec.account}"
    if not new:
        description += f" (was {current})" if not same else " with the password from -Credential"
    return Action(
        kind="set-account",
        description=description,
        target=spec.name,
        parameter="ObjectName",
        data={"account": spec.account, "password": spec.account_password, "previous": current, "newService": new},
    )


def _plan_firewall(spec: ServiceSpec, present_port: Optional[int], present_scope: Optional[tuple[tuple[str, ...], tuple[str, ...]]] = None) -> list[Action]:
    """The rule, replaced when its port or scope differs (netsh's set would keep the old
    remote addresses where a new list is empty; removing and adding is exact)."""
    rule = firewall_rule_name(spec.name)
    wanted = spec.port if spec.firewall_rule else None
    scope = (spec.firewall_remote_addresses, spec.firewall_profiles)
    if present_port == wanted and (wanted is None or firewall.same_scope(scope, present_scope)):
        return []
    actions = [] if present_port is None else [_remove_rule(rule, present_port, present_scope)]
    if wanted is not None:
        actions.append(
            Action(
                kind="add-firewall-rule",
                description=f"Add inbound firewall rule '{rule}' allowing TCP {wanted} {firewall.describe_scope(*scope)}",
                target=rule,
                data={"rule": rule, "port": wanted, "remoteAddresses": list(scope[0]), "profiles": list(scope[1])},
            )
        )
    return actions


def _remove_rule(rule: str, port: int, scope: Optional[tuple[tuple[str, ...], tuple[str, ...]]] = None) -> Action:
    shown = f" {firewall.describe_scope(*scope)}" if scope else ""
    return Action(
        kind="remove-firewall-rule",
        description=f"Remove inbound firewall rule '{rule}' (TCP {port}{shown})",
        target=rule,
        data={"rule": rule, "previousPort": port, "previousRemoteAddresses": list(scope[0]) if scope else [], "previousProfiles": list(scope[1]) if scope else []},
    )


# -- ACL grants ------------------------------------------------------------------------------
def marker_text(spec: ServiceSpec, recorded: Sequence[Grant]) -> str:
    """The marker with the grants PrefectWin made ("grants"; an empty list still says that
    grants are recorded, unlike an older marker without the key)."""
    data = spec.marker_data()
    data[grants.MARKER_KEY] = grants.marker_entries(recorded)
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def grant_action(grant: Grant) -> Action:
    return Action(kind="grant-access", description=grants.describe(grant), target=grant.path, data=grant.marker_entry())


def handover_action(service: str, previous: Optional[str], marker: dict[str, Any], kept: Sequence[Grant]) -> Action:
    """Record grants an uninstalled service made in the marker of a service that still needs
    them, so that the later Uninstall of that one takes them back."""
    shown = ", ".join(f"'{g.path}'" for g in kept)
    return Action(
        kind="write-marker",
        description=f"Record in the marker of service '{service}' the rights it still needs on {shown}",
        target=service,
        data={"text": json.dumps(marker, sort_keys=True, ensure_ascii=False, separators=(",", ":")), "previous": previous, "newService": False},
    )


def revoke_action(grant: Grant) -> Action:
    return Action(kind="revoke-access", description=grants.describe(grant, revoke=True), target=grant.path, data=grant.marker_entry())


def plan_grants(spec: ServiceSpec, state: ServiceState) -> tuple[list[Action], tuple[Grant, ...]]:
    """(the grant and revoke actions, the grants the marker records afterwards).

    Grants what the account lacks; revokes what PrefectWin recorded and no longer needs (another
    account, another PREFECT_HOME); records what it made, never what was there anyway."""
    marker = state.record.managed if state.record else None
    recorded = grants.recorded_grants(marker)
    wanted = grants.wanted_grants(spec.account_principal, spec.modify_directories, spec.runtime_directories)
    held = [g for g in wanted if (state.access if g.rights == "Modify" else state.read_access).get(g.path)]
    held_keys = grants.keys(held)
    lacking = [g for g in wanted if g.key not in held_keys]
    if recorded is None:
        # A new service owns nothing yet; an older one (no "grants" in its marker) owns only
        # what its own virtual account holds.
        owned_before: Sequence[Grant] = grants.unrecorded_owned(held, spec.name) if state.record is not None else ()
        stale: list[Grant] = []
    else:
        owned_before = recorded
        wanted_keys = grants.keys(wanted)
        stale = [g for g in recorded if g.key not in wanted_keys]
    actions = [revoke_action(g) for g in stale] + [grant_action(g) for g in lacking]
    return actions, grants.record_after(wanted, lacking, owned_before)


# -- uninstall -------------------------------------------------------------------------------
def plan_uninstall(
    record: ServiceRecord,
    *,
    firewall_port: Optional[int],
    stop_timeout_sec: int,
    log_files: list[str],
    database_files: list[str],
    force: bool = False,
    log_task: Optional[str] = None,
    secrets_file: Optional[str] = None,
    secrets_previous: Optional[SecretStr] = None,
    launcher_file: Optional[str] = None,
    launcher_previous: Optional[SecretStr] = None,
    revoke: Sequence[Grant] = (),
    hand_over: Sequence[Action] = (),
    firewall_scope: Optional[tuple[tuple[str, ...], tuple[str, ...]]] = None,
) -> list[Action]:
    """Stop, remove the firewall rule, revoke the grants Install made (while the service, and
    so its virtual account, still exists), remove the service and its secrets file, then the
    files asked for. `hand_over`: the marker writes (`handover_action`) that give grants another
    service still needs to that service."""
    name = record.name
    if record.managed is None and not force:
        raise InvalidArgument(
            f"Service '{name}' is not managed by PrefectWin.",
            target="Name",
            remediation="Check -Name (Get-PrefectService lists PrefectWin's services), or add -Force to remove it anyway.",
        )
    actions: list[Action] = []
    if record.status != STOPPED:
        actions.append(
            Action(
                kind="stop-service",
                description=f"Stop service '{name}' (Ctrl-C first, killed after {stop_timeout_sec} s)",
                target=name,
                data={"timeoutSec": stop_timeout_sec},
            )
        )
    if firewall_port is not None:
        # The scope is kept so that a rollback restores the rule as it was, not wider.
        actions.append(_remove_rule(firewall_rule_name(name), firewall_port, firewall_scope))
    actions.extend(hand_over)
    actions.extend(revoke_action(g) for g in revoke)
    if log_task is not None:
        actions.append(Action(kind="remove-task", description=f"Remove the scheduled task '{log_task}'", target=log_task, data={"task": log_task}))
    if secrets_file is not None:
        # Before the service goes, and undoable (its text is kept in the plan, never in the
        # journal): a failure after it puts the file back for the service that still reads it.
        reader = normalize_account((record.parameters.get("ObjectName") or (None,))[0])[1]
        data: dict[str, Any] = {"path": secrets_file, "previous": secrets_previous, "reader": reader}
        if secrets_previous is None:
            data["previousUnknown"] = True
        actions.append(
            Action(kind="remove-secrets-file", description=f"Delete the secrets file '{secrets_file}' of service '{name}'", target=secrets_file, data=data)
        )
    if launcher_file is not None:
        reader = normalize_account((record.parameters.get("ObjectName") or (None,))[0])[1]
        launcher: dict[str, Any] = {"path": launcher_file, "previous": launcher_previous, "reader": reader}
        if launcher_previous is None:
            launcher["previousUnknown"] = True
        actions.append(Action(kind="remove-launcher", description=f"Delete the launcher '{launcher_file}' of service '{name}'", target=launcher_file, data=launcher))
    actions.append(
        Action(kind="remove-service", description=f"Remove service '{name}'", target=name, data={"timeoutSec": stop_timeout_sec})
    )
    for path in log_files:
        actions.append(Action(kind="remove-path", description=f"Delete log file '{path}'", target=path, data={"path": path}))
    for path in database_files:
        actions.append(
            Action(
                kind="remove-path",
                description=f"Delete the Prefect database file '{path}' (all flow runs, deployments and blocks in it)",
                target=path,
                impact="High",
                data={"path": path},
            )
        )
    return link_uninstall(number(actions))


def link_uninstall(actions: list[Action]) -> list[Action]:
    """dependsOn: the service's grants are revoked, it is removed, and its files deleted, only
    once it has stopped (a running service that lost its rights would fail mid-run)."""
    stop = [a.id for a in actions if a.kind == "stop-service"]
    return [a.model_copy(update={"depends_on": stop}) if a.kind in ("revoke-access", "remove-secrets-file", "remove-launcher", "remove-service", "remove-path") else a for a in actions]

