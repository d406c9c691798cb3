"""How each service action is carried out through the system adapter, and how it is undone.

Every kind has one way to perform it and, where one exists, one inverse computed from the
action's own data (what the parameter was, which rule was there, ...). What cannot be undone
(a removed service, a deleted file, the old password of an account) raises NotReversible.
The change engine (change/engine.py) runs them; this module decides nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from prefectwin.change.engine import NotReversible, Steps
from prefectwin.change.model import Action
from prefectwin.services.spec import BUILTIN_ACCOUNTS, parse_failure_values


@dataclass
class Runtime:
    adapter: Any
    nssm: Optional[str]
    # A health gate reports its progress; recovery in a new process has nobody to show it to.
    events: Any = None


def runtime(context: dict[str, Any]) -> Runtime:
    """The runtime of a journal's context, in a new process (recovery)."""
    from prefectwin.system import get_adapter

    return Runtime(adapter=get_adapter(), nssm=context.get("nssm"))


def _timeout(action: Action) -> int:
    return int(action.data.get("timeoutSec", 60))


def _install(action: Action, adapter: Any, nssm: Optional[str]) -> None:
    # Finishing a journal whose install step was cut short: the service may be there already.
    if action.data.get("resuming") and adapter.read_service(action.target) is not None:
        return
    adapter.nssm_install(nssm, action.target, action.data["application"])


def _wait_healthy(action: Action, rt: Runtime) -> None:
    from prefectwin.events import SilentEvents
    from prefectwin.services.health import wait_until_healthy

    wait_until_healthy(action.data["names"], int(action.data["timeoutSec"]), rt.adapter, rt.events or SilentEvents())


def _distribution(line: str) -> str:
    return line.partition("==")[0].lower().replace("_", "-")


def _restore_packages(action: Action, adapter: Any) -> None:
    """Put the recorded distributions back: remove what is new, reinstall what changed."""
    data = action.data
    wanted = {_distribution(line): line for line in data["packages"]}
    now = {_distribution(line): line for line in adapter.pip_freeze(data["python"])}
    adapter.pip_uninstall(data["python"], sorted(n for n in now if n not in wanted))
    changed = [line for key, line in wanted.items() if now.get(key) != line]
    if changed:
        adapter.pip_install(data["python"], changed, data.get("wheelPath"), no_deps=True)


def _migrate(action: Action, adapter: Any) -> None:
    data = action.data
    from prefectwin.secrets import looks_secret

    secrets = tuple(v for k, v in data["environment"].items() if v and ("DATABASE" in k.upper() or looks_secret(k)))
    adapter.prefect_database_upgrade(data["python"], data["environment"], data.get("cwd"), secrets, tuple(data.get("launcher") or ()))


def _change_access(adapter: Any, data: dict[str, Any], *, grant: bool) -> None:
    # A journal from before rights were recorded holds Modify grants only.
    if data.get("rights", "Modify") == "ReadAndExecute":
        (adapter.grant_read_execute if grant else adapter.revoke_read_execute)(data["path"], data["principal"])
    else:
        (adapter.grant_modify if grant else adapter.revoke_modify)(data["path"], data["principal"])


def _add_rule(adapter: Any, data: dict[str, Any]) -> None:
    remote, profiles = tuple(data.get("remoteAddresses") or ()), tuple(data.get("profiles") or ())
    if remote or profiles:
        adapter.add_firewall_rule(data["rule"], data["port"], remote, profiles)
    else:
        # A rule recorded without a scope (an older journal, or one read back as open).
        adapter.add_firewall_rule(data["rule"], data["port"])


def perform(action: Action, rt: Runtime) -> None:
    kind, data, name, adapter, nssm = action.kind, action.data, action.target, rt.adapter, rt.nssm
    handlers: dict[str, Callable[[], Any]] = {
        "create-directory": lambda: adapter.create_directory(data["path"]),
        "install-service": lambda: _install(action, adapter, nssm),
        "set-parameter": lambda: adapter.nssm_set(nssm, name, action.parameter, tuple(data["values"])),
        "reset-parameter": lambda: adapter.nssm_reset(nssm, name, action.parameter),
        "set-account": lambda: adapter.set_service_account(nssm, name, data["account"], data.get("password")),
        "write-marker": lambda: adapter.write_marker(name, data.get("text")),
        "grant-access": lambda: _change_access(adapter, data, grant=True),
        "revoke-access": lambda: _change_access(adapter, data, grant=False),
        "add-firewall-rule": lambda: _add_rule(adapter, data),
        "remove-firewall-rule": lambda: adapter.remove_firewall_rule(data["rule"]),
        "start-service": lambda: adapter.start_service(name, _timeout(action)),
        "stop-service": lambda: adapter.stop_service(name, _timeout(action)),
        "restart-service": lambda: (adapter.stop_service(name, _timeout(action)), adapter.start_service(name, _timeout(action))),
        "remove-service": lambda: adapter.remove_service(nssm, name, _timeout(action)),
        "remove-path": lambda: adapter.remove_path(data["path"]),
        "wait-healthy": lambda: _wait_healthy(action, rt),
        "backup-database": lambda: adapter.sqlite_backup(data["source"], data["destination"]),
        "pip-install": lambda: adapter.pip_install(data["python"], data["requirements"], data.get("wheelPath")),
        "restore-packages": lambda: _restore_packages(action, adapter),
        "migrate-database": lambda: _migrate(action, adapter),
        "restore-database": lambda: adapter.sqlite_restore(data["backup"], data["database"]),
        "register-task": lambda: adapter.register_scheduled_task(data["task"], data["command"], data["arguments"]),
        "remove-task": lambda: adapter.remove_scheduled_task(data["task"]),
        "set-failure-actions": lambda: adapter.set_failure_actions(name, int(data["resetSec"]), [tuple(a) for a in data["actions"]]),
        "write-secrets-file": lambda: adapter.write_restricted_file(data["path"], data["content"], data["reader"]),
        "remove-secrets-file": lambda: adapter.remove_path(data["path"]),
        # The launcher is written like the secrets file: no one but SYSTEM and Administrators may change it.
        "write-launcher": lambda: adapter.write_restricted_file(data["path"], data["content"], data["reader"]),
        "remove-launcher": lambda: adapter.remove_path(data["path"]),
    }
    handlers[kind]()


def _undo(action: Action, kind: str, description: str, **data: Any) -> Action:
    return Action(id=f"undo-{action.id}", kind=kind, description=description, target=action.target, parameter=action.parameter, data=data)


def inverse(action: Action) -> Optional[Action]:
    """The action that undoes `action`; None when undoing it is covered by another undo
    (a parameter of a service this run installed goes away with the service)."""
    kind, data, target = action.kind, action.data, action.target
    if data.get("newService") and kind in ("set-parameter", "reset-parameter", "set-account", "write-marker", "set-failure-actions"):
        return None
    if kind == "create-directory":
        return _undo(action, "remove-path", f"Remove directory '{target}' created by this run", path=target)
    if kind == "install-service":
        return _undo(action, "remove-service", f"Remove service '{target}' installed by this run", timeoutSec=60)
    if kind == "set-parameter" and not data.get("previous"):
        return _undo(action, "reset-parameter", f"Reset {action.parameter} of service '{target}' again")
    if kind in ("set-parameter", "reset-parameter"):
        return _undo(action, "set-parameter", f"Restore {action.parameter} of service '{target}'", values=list(data.get("previous") or ()))
    if kind == "set-account":
        previous = data["previous"]
        if previous.lower() not in BUILTIN_ACCOUNTS:
            raise NotReversible(f"the password of the previous account {previous} is not known")
        return _undo(action, "set-account", f"Run service '{target}' as {previous} again", account=previous)
    if kind == "write-marker":
        return _undo(action, "write-marker", f"Restore the PrefectWin marker of service '{target}'", text=data.get("previous"))
    if kind == "grant-access":
        what = "read and execute" if data.get("rights") == "ReadAndExecute" else "Modify"
        return _undo(action, "revoke-access", f"Revoke the {what} rights granted to {data['principal']} on '{target}'", **data)
    if kind == "revoke-access":
        what = "read and execute" if data.get("rights") == "ReadAndExecute" else "Modify"
        return _undo(action, "grant-access", f"Grant {data['principal']} {what} rights on '{target}' again", **data)
    if kind == "add-firewall-rule":
        return _undo(action, "remove-firewall-rule", f"Remove firewall rule '{target}' added by this run", rule=data["rule"])
    if kind == "remove-firewall-rule":
        port = data["previousPort"]
        return _undo(
            action, "add-firewall-rule", f"Restore firewall rule '{target}' (TCP {port})", rule=data["rule"], port=port,
            remoteAddresses=list(data.get("previousRemoteAddresses") or ()), profiles=list(data.get("previousProfiles") or ()),
        )
    if kind == "start-service":
        return _undo(action, "stop-service", f"Stop service '{target}' again", **data)
    if kind == "stop-service":
        return _undo(action, "start-service", f"Start service '{target}' again", **data)
    if kind == "restart-service":
        return _undo(action, "restart-service", f"Restart service '{target}' with its restored settings", **data)
    if kind in ("wait-healthy", "backup-database"):
        return None  # waiting changed nothing; a backup is kept, it is the way back
    if kind == "pip-install":
        if not data.get("previous"):
            raise NotReversible("the previous packages were not recorded")
        was = data.get("previousVersion") or "the recorded packages"
        return _undo(
            action, "restore-packages", f"Install Prefect {was} into '{target}' again, with the packages it had",
            python=data["python"], packages=data["previous"], wheelPath=data.get("wheelPath"),
        )
    if kind == "migrate-database":
        if not data.get("backup"):
            raise NotReversible("a PostgreSQL migration is not undone: restore the pg_dump taken before the upgrade")
        undo = _undo(action, "restore-database", f"Restore the database '{data['database']}' from '{data['backup']}'", backup=data["backup"], database=data["database"])
        return undo.model_copy(update={"target": data["database"]})
    if kind in ("restore-packages", "restore-database"):
        raise NotReversible(f"{kind} is itself an undo")
    if kind == "set-failure-actions":
        reset, steps = parse_failure_values(tuple(data.get("previous") or ()))
        return _undo(action, "set-failure-actions", f"Restore the failure actions of service '{target}'", resetSec=reset, actions=[list(s) for s in steps])
    if kind == "register-task":
        previous = data.get("previous")
        if not previous:
            return _undo(action, "remove-task", f"Remove scheduled task '{target}' registered by this run", task=data["task"])
        return _undo(action, "register-task", f"Register scheduled task '{target}' as it was", task=data["task"], command=previous[0], arguments=previous[1])
    if kind == "remove-task":
        raise NotReversible("a removed scheduled task is not registered again")
    if kind in ("write-secrets-file", "remove-secrets-file"):
        return _undo_restricted_file(action, "secrets file", "write-secrets-file", "remove-secrets-file")
    if kind in ("write-launcher", "remove-launcher"):
        return _undo_restricted_file(action, "launcher", "write-launcher", "remove-launcher")
    if kind == "remove-service":
        raise NotReversible("a removed service is not re-created")
    if kind == "remove-path":
        raise NotReversible("a deleted file is not restored")
    raise NotReversible(f"no inverse for {kind}")


def _undo_restricted_file(action: Action, what: str, write: str, remove: str) -> Action:
    """The file as it was, byte for byte (its text is in the action, as a SecretStr), or gone
    again when this run created it."""
    data, target = action.data, action.target
    previous = data.get("previous")
    if data.get("previousUnknown"):
        raise NotReversible(f"the {what} could not be read when this was planned")
    if previous is None:
        return _undo(action, remove, f"Delete the {what} '{target}' written by this run", path=data["path"], previous=None, reader=data["reader"])
    return _undo(action, write, f"Restore the {what} '{target}' as it was", path=data["path"], content=previous, reader=data["reader"], previous=None)


STEPS = Steps(
    module=__name__,
    perform=perform,
    inverse=inverse,
    # Starting a service again needs everything it depends on restored first.
    run_last=frozenset({"start-service", "restart-service"}),
    # A failed step of these kinds may have been half done; its (tolerant) inverse runs too.
    undo_when_failed=frozenset({"create-directory", "install-service", "add-firewall-rule", "restart-service", "pip-install", "migrate-database", "register-task"}),
)
