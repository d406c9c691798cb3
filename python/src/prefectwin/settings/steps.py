"""How each settings and repair action is carried out, and how it is undone.

Kinds: `profile.set`/`profile.unset` (Prefect's own profile API, in the target interpreter),
`environment.set`/`environment.unset` (Process: this backend's environment; User/Machine: the
adapter), and the repair fixes `path.add`, `execution-policy.set`, `defender.exclude`,
`long-paths.enable`, `firewall.add`. Each inverse restores the value the planner read
(`previous` in the action's data). The change engine (change/engine.py) runs them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from pydantic import SecretStr

from prefectwin.change.engine import NotReversible, Steps
from prefectwin.change.model import Action


@dataclass
class Runtime:
    """The adapter, and the target interpreter for profile writes: `session` when the command
    has one open, else one opened on first use with python_path/profile and closed by close()."""

    adapter: Any
    python_path: Optional[str] = None
    profile: Optional[str] = None
    prefect_home: Optional[str] = None
    session: Any = None
    _opened: Any = field(default=None, repr=False)

    def target(self) -> Any:
        if self.session is None:
            from prefectwin.diagnosis.probe import probe_environment
            from prefectwin.settings.target import open_session

            home = self.prefect_home
            env = probe_environment(home) if home else None
            cwd = home if home and os.path.isdir(home) else None
            self._opened = open_session(self.python_path, None if home else self.profile, env=env, cwd=cwd)
            self.session = self._opened.__enter__()
        return self.session

    def close(self) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            self.session = None
            opened.__exit__(None, None, None)


def runtime(context: dict[str, Any]) -> Runtime:
    from prefectwin.system import get_adapter

    return Runtime(adapter=get_adapter(), python_path=context.get("pythonPath"), profile=context.get("profile"), prefect_home=context.get("prefectHome"))


def _plain(value: Any) -> Optional[str]:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _profile_write(rt: Runtime, action: Action) -> None:
    from prefectwin.errors import PrefectWinError
    from prefectwin.secrets import scrub

    data = action.data
    value = _plain(data.get("value"))
    request: dict[str, Any] = {"set": {data["name"]: value}} if action.kind == "profile.set" else {"unset": [data["name"]]}
    if data.get("profile"):
        request["profile"] = data["profile"]
    try:
        rt.target().ask("profile-update", **request)
    except PrefectWinError as exc:
        exc.message = scrub(exc.message, value)  # never the value being written
        exc.args = (exc.message,)
        raise


def _environment(rt: Runtime, action: Action) -> None:
    data = action.data
    value = _plain(data.get("value")) if action.kind == "environment.set" else None
    if action.scope == "Process":
        if value is None:
            os.environ.pop(data["name"], None)
        else:
            os.environ[data["name"]] = value
        return
    rt.adapter.set_environment_variable(data["name"], value, action.scope)


def perform(action: Action, rt: Runtime) -> None:
    kind, data, adapter = action.kind, action.data, rt.adapter
    if kind in ("profile.set", "profile.unset"):
        _profile_write(rt, action)
    elif kind in ("environment.set", "environment.unset"):
        _environment(rt, action)
    elif kind == "path.add":
        adapter.set_user_path(data["raw"])
    elif kind == "execution-policy.set":
        adapter.set_current_user_execution_policy(data["policy"])
    elif kind == "defender.exclude":
        adapter.add_defender_exclusions(data["paths"])
    elif kind == "defender.include":
        adapter.remove_defender_exclusions(data["paths"])
    elif kind == "long-paths.enable":
        adapter.set_long_paths_enabled(data.get("enabled", True))
    elif kind == "firewall.add":
        if data.get("remoteAddresses") or data.get("profiles"):
            adapter.add_firewall_rule(data["name"], data["port"], tuple(data.get("remoteAddresses") or ()), tuple(data.get("profiles") or ()))
        else:
            adapter.add_firewall_rule(data["name"], data["port"])  # a journal from before the scope
    elif kind == "firewall.remove":
        adapter.remove_firewall_rule(data["name"])
    else:
        raise ValueError(f"unknown settings action {kind}")


def _back(action: Action, kind: str, description: str, **data: Any) -> Action:
    return Action(id=f"undo-{action.id}", kind=kind, description=description, target=action.target, scope=action.scope, data=data)


def inverse(action: Action) -> Optional[Action]:
    kind, data = action.kind, action.data
    if kind in ("profile.set", "profile.unset", "environment.set", "environment.unset"):
        if "previous" not in data:
            raise NotReversible("its previous value was not read")
        family = kind.split(".")[0]
        previous = data["previous"]
        name = data["name"]
        extra = {"profile": data.get("profile")} if family == "profile" else {}
        if previous is None:
            return _back(action, f"{family}.unset", f"Remove {name} again", name=name, previous=_plain(data.get("value")), **extra)
        return _back(action, f"{family}.set", f"Restore the previous value of {name}", name=name, value=previous, previous=_plain(data.get("value")), **extra)
    if kind == "path.add":
        return _back(action, "path.add", "Restore the previous user PATH", raw=data["previous"], previous=data["raw"])
    if kind == "execution-policy.set":
        return _back(action, "execution-policy.set", "Restore the previous CurrentUser execution policy", policy=data["previous"], previous=data["policy"])
    if kind == "defender.exclude":
        return _back(action, "defender.include", "Remove the Defender exclusions added", paths=data["paths"])
    if kind == "long-paths.enable":
        return _back(action, "long-paths.enable", "Restore the previous long paths setting", enabled=data.get("previous", False))
    if kind == "firewall.add":
        return _back(action, "firewall.remove", f"Remove the firewall rule '{data['name']}' again", name=data["name"])
    raise NotReversible(f"no inverse for {kind}")


STEPS = Steps(module=__name__, perform=perform, inverse=inverse)
