"""Carry out a plan through the system adapter; when a step fails, undo the steps done.

Every action kind has one way to perform it and, where one exists, one inverse computed
from the plan's own data (what the parameter was, which rule was there, ...). Undoing runs
in reverse order, except that starting a service again runs last, once everything it
depends on is restored. What cannot be undone (a removed service, a deleted file, the old
password of an account) is reported as such.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from prefectwin.errors import ApplyFailed, PrefectWinError
from prefectwin.events import Events
from prefectwin.secrets import scrub
from prefectwin.services.plan import Action
from prefectwin.services.spec import BUILTIN_ACCOUNTS, parse_failure_values

ACTIVITY = "Applying the PrefectWin service plan"
# Undo steps that need everything else restored first.
_RUN_LAST = frozenset({"start-service", "restart-service"})
# A failed step of these kinds may have been half done; its (tolerant) inverse runs too.
_UNDO_WHEN_FAILED = frozenset({"create-directory", "install-service", "add-firewall-rule", "restart-service", "pip-install", "migrate-database", "register-task"})
# A test hook: makes every health gate fail at once, so that an upgrade's rollback can be
# proven with real servers. Nothing sets it outside the tests.
FAIL_HEALTH_GATE_VARIABLE = "PREFECTWIN_TEST_FAIL_HEALTH_GATE"


def _timeout(action: Action) -> int:
    return int(action.data.get("timeoutSec", 60))


def _wait_healthy(action: Action, adapter: Any, events: Optional[Events]) -> None:
    import os

    from prefectwin.errors import OperationTimeout
    from prefectwin.events import SilentEvents
    from prefectwin.services.health import wait_until_healthy

    names = action.data["names"]
    if os.environ.get(FAIL_HEALTH_GATE_VARIABLE):
        raise OperationTimeout(f"the health gate of {', '.join(names)} was made to fail ({FAIL_HEALTH_GATE_VARIABLE} is set).", target=action.target)
    wait_until_healthy(names, int(action.data["timeoutSec"]), adapter, events or SilentEvents())


def _restore_packages(action: Action, adapter: Any) -> None:
    """Put the recorded distributions back: remove what is new, reinstall what changed."""
    data = action.data
    wanted = {line.partition("==")[0].lower().replace("_", "-"): line for line in data["packages"]}
    now = {line.partition("==")[0].lower().replace("_", "-"): line for line in adapter.pip_freeze(data["python"])}
    adapter.pip_uninstall(data["python"], sorted(n for n in now if n not in wanted))
    changed = [line for key, line in wanted.items() if now.get(key) != line]
    if changed:
        adapter.pip_install(data["python"], changed, data.get("wheelPath"), no_deps=True)


def _migrate(action: Action, adapter: Any) -> None:
    data = action.data
    secrets = tuple(v for k, v in data["environment"].items() if "DATABASE" in k or "PASSWORD" in k)
    adapter.prefect_database_upgrade(data["python"], data["environment"], data.get("cwd"), secrets)


def perform(action: Action, adapter: Any, nssm: Optional[str], events: Optional[Events] = None) -> None:
    kind, data, name = action.kind, action.data, action.target
    handlers: dict[str, Callable[[], Any]] = {
        "create-directory": lambda: adapter.create_directory(data["path"]),
        "install-service": lambda: adapter.nssm_install(nssm, name, data["application"]),
        "set-parameter": lambda: adapter.nssm_set(nssm, name, action.parameter, action.values),
        "reset-parameter": lambda: adapter.nssm_reset(nssm, name, action.parameter),
        "set-account": lambda: adapter.set_service_account(nssm, name, data["account"], data.get("password")),
        "write-marker": lambda: adapter.write_marker(name, data.get("text")),
        "grant-access": lambda: adapter.grant_modify(data["path"], data["principal"]),
        "revoke-access": lambda: adapter.revoke_modify(data["path"], data["principal"]),
        "add-firewall-rule": lambda: adapter.add_firewall_rule(data["rule"], data["port"]),
        "remove-firewall-rule": lambda: adapter.remove_firewall_rule(data["rule"]),
        "start-service": lambda: adapter.start_service(name, _timeout(action)),
        "stop-service": lambda: adapter.stop_service(name, _timeout(action)),
        "restart-service": lambda: (adapter.stop_service(name, _timeout(action)), adapter.start_service(name, _timeout(action))),
        "remove-service": lambda: adapter.remove_service(nssm, name, _timeout(action)),
        "remove-path": lambda: adapter.remove_path(data["path"]),
        "wait-healthy": lambda: _wait_healthy(action, adapter, events),
        "backup-database": lambda: adapter.sqlite_backup(data["source"], data["destination"]),
        "pip-install": lambda: adapter.pip_install(data["python"], data["requirements"], data.get("wheelPath")),
        "restore-packages": lambda: _restore_packages(action, adapter),
        "migrate-database": lambda: _migrate(action, adapter),
        "restore-database": lambda: adapter.sqlite_restore(data["backup"], data["database"]),
        "register-task": lambda: adapter.register_scheduled_task(data["task"], data["command"], data["arguments"]),
        "remove-task": lambda: adapter.remove_scheduled_task(data["task"]),
        "set-failure-actions": lambda: adapter.set_failure_actions(name, int(data["resetSec"]), [tuple(a) for a in data["actions"]]),
    }
    handlers[kind]()


class NotReversible(Exception):
    """Raised by `inverse` for a step that cannot be undone; the message says why."""


def inverse(action: Action) -> Optional[Action]:
    """The action that undoes `action`; None when undoing it is covered by another undo
    (a parameter of a service this run installed goes away with the service)."""
    kind, data, target = action.kind, action.data, action.target
    if data.get("newService") and kind in ("set-parameter", "reset-parameter", "set-account", "write-marker", "set-failure-actions"):
        return None
    if kind == "create-directory":
        return Action(kind="remove-path", description=f"Remove directory '{target}' created by this run", target=target, data={"path": target})
    if kind == "install-service":
        return Action(kind="remove-service", description=f"Remove service '{target}' installed by this run", target=target, data={"timeoutSec": 60})
    if kind == "set-parameter" and not action.previous:
        return Action(kind="reset-parameter", description=f"Reset {action.parameter} of service '{target}' again", target=target, parameter=action.parameter)
    if kind in ("set-parameter", "reset-parameter"):
        return Action(
            kind="set-parameter",
            description=f"Restore {action.parameter} of service '{target}'",
            target=target,
            parameter=action.parameter,
            values=action.previous or (),
        )
    if kind == "set-account":
        previous = data["previous"]
        if previous.lower() not in BUILTIN_ACCOUNTS:
            raise NotReversible(f"the password of the previous account {previous} is not known")
        return Action(kind="set-account", description=f"Run service '{target}' as {previous} again", target=target, data={"account": previous})
    if kind == "write-marker":
        return Action(kind="write-marker", description=f"Restore the PrefectWin marker of service '{target}'", target=target, data={"text": data.get("previous")})
    if kind == "grant-access":
        return Action(kind="revoke-access", description=f"Revoke the Modify rights granted to {data['principal']} on '{target}'", target=target, data=dict(data))
    if kind == "add-firewall-rule":
        return Action(kind="remove-firewall-rule", description=f"Remove firewall rule '{target}' added by this run", target=target, data={"rule": data["rule"]})
    if kind == "remove-firewall-rule":
        port = data["previousPort"]
        return Action(kind="add-firewall-rule", description=f"Restore firewall rule '{target}' (TCP {port})", target=target, data={"rule": data["rule"], "port": port})
    if kind == "start-service":
        return Action(kind="stop-service", description=f"Stop service '{target}' again", target=target, data=dict(data))
    if kind == "stop-service":
        return Action(kind="start-service", description=f"Start service '{target}' again", target=target, data=dict(data))
    if kind == "restart-service":
        return Action(kind="restart-service", description=f"Restart service '{target}' with its restored settings", target=target, data=dict(data))
    if kind in ("wait-healthy", "backup-database"):
        return None  # waiting changed nothing; a backup is kept, it is the way back
    if kind == "pip-install":
        if not data.get("previous"):
            raise NotReversible("the previous packages were not recorded")
        was = data.get("previousVersion") or "the recorded packages"
        return Action(
            kind="restore-packages",
            description=f"Install Prefect {was} into '{target}' again, with the packages it had",
            target=target,
            data={"python": data["python"], "packages": data["previous"], "wheelPath": data.get("wheelPath")},
        )
    if kind == "migrate-database":
        if not data.get("backup"):
            raise NotReversible("a PostgreSQL migration is not undone: restore the pg_dump taken before the upgrade")
        return Action(
            kind="restore-database",
            description=f"Restore the database '{data['database']}' from '{data['backup']}'",
            target=data["database"],
            data={"backup": data["backup"], "database": data["database"]},
        )
    if kind in ("restore-packages", "restore-database"):
        raise NotReversible(f"{kind} is itself an undo")
    if kind == "set-failure-actions":
        reset, steps = parse_failure_values(action.previous or ())
        return Action(
            kind="set-failure-actions",
            description=f"Restore the failure actions of service '{target}'",
            target=target,
            parameter=action.parameter,
            data={"resetSec": reset, "actions": [list(s) for s in steps]},
        )
    if kind == "register-task":
        previous = data.get("previous")
        if not previous:
            return Action(kind="remove-task", description=f"Remove scheduled task '{target}' registered by this run", target=target, data={"task": data["task"]})
        return Action(
            kind="register-task",
            description=f"Register scheduled task '{target}' as it was",
            target=target,
            data={"task": data["task"], "command": previous[0], "arguments": previous[1]},
        )
    if kind == "remove-task":
        raise NotReversible("a removed scheduled task is not registered again")
    if kind == "remove-service":
        raise NotReversible("a removed service is not re-created")
    if kind == "remove-path":
        raise NotReversible("a deleted file is not restored")
    raise NotReversible(f"no inverse for {kind}")  # pragma: no cover - every kind is listed above


def _message(exc: BaseException, secrets: tuple[str, ...]) -> str:
    text = exc.message if isinstance(exc, PrefectWinError) else (str(exc) or type(exc).__name__)
    return scrub(text, *secrets)


def rollback(done: list[Action], adapter: Any, nssm: Optional[str], events: Events, secrets: tuple[str, ...]) -> list[dict[str, Any]]:
    """Undo `done` (in reverse, restarts last). Returns one report entry per step."""
    undos: list[tuple[Action, Action]] = []
    report: list[dict[str, Any]] = []
    for action in reversed(done):
        try:
            undo = inverse(action)
        except NotReversible as why:
            report.append({"action": action.description, "rolledBack": False, "reason": str(why)})
            continue
        if undo is not None:
            undos.append((action, undo))
    undos.sort(key=lambda pair: pair[1].kind in _RUN_LAST)
    for action, undo in undos:
        events.verbose(f"Rolling back: {undo.description}")
        try:
            perform(undo, adapter, nssm, events)
            report.append({"action": action.description, "rolledBack": True, "undo": undo.description})
        except Exception as exc:  # noqa: BLE001 - keep undoing the rest, and report this one
            report.append({"action": action.description, "rolledBack": False, "undo": undo.description, "reason": _message(exc, secrets)})
    return report


def apply_plan(
    actions: list[Action],
    adapter: Any,
    *,
    nssm: Optional[str],
    events: Events,
    secrets: tuple[str, ...] = (),
) -> None:
    """Perform `actions` in order. On failure, roll back and raise ApplyFailed naming the
    failed step, its original error, and what was and was not rolled back. A stop signal
    lets the step in progress finish, then rolls back the same way (interrupts.py)."""
    from prefectwin import interrupts

    with interrupts.deferred():
        _apply(actions, adapter, nssm=nssm, events=events, secrets=secrets)


def _apply(actions: list[Action], adapter: Any, *, nssm: Optional[str], events: Events, secrets: tuple[str, ...]) -> None:
    from prefectwin.interrupts import Interrupted, check

    done: list[Action] = []
    total = len(actions)
    for index, action in enumerate(actions):
        events.progress(ACTIVITY, action.description, int(100 * index / max(total, 1)))
        events.verbose(action.description)
        try:
            check()
        except Interrupted as stop:
            stop.details = rollback(done, adapter, nssm, events, secrets) or None
            raise
        try:
            perform(action, adapter, nssm, events)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the machine is restored
            original = _message(exc, secrets)
            code = exc.code if isinstance(exc, PrefectWinError) else type(exc).__name__
            undo_too = done + ([action] if action.kind in _UNDO_WHEN_FAILED else [])
            report = rollback(undo_too, adapter, nssm, events, secrets)
            failed_undo = [r for r in report if not r["rolledBack"]]
            rolled = sum(1 for r in report if r["rolledBack"])
            message = f"{action.description} failed: {original} Rolled back {rolled} step(s)"
            if failed_undo:
                message += "; not rolled back: " + "; ".join(f"{r['action']} ({r['reason']})" for r in failed_undo)
            events.progress(ACTIVITY, "Rolled back", 100)
            raise ApplyFailed(
                message + ".",
                target=action.target,
                remediation=(
                    "Fix the cause above and run the command again."
                    if not failed_undo
                    else "Fix the cause above, check the steps that were not rolled back, then run the command again."
                ),
                details=[{"failedAction": action.description, "kind": action.kind, "code": code, "message": original}, *report],
            ) from None
        done.append(action)
    events.progress(ACTIVITY, "Done", 100)
