"""PrefectSetting: one setting in one scope. Get reads what THAT scope holds (not the
effective value, which another scope may supply); Test and Set plan and apply through
setting.set / setting.remove."""
from __future__ import annotations

import json
from typing import Any, Optional

from prefectwin.dsc import change
from prefectwin.dsc.instances import SettingInstance
from prefectwin.errors import InvalidArgument
from prefectwin.registry import Context


def _held(state: Any, entry: Any) -> Optional[str]:
    """The scope's value for any name of the setting, the canonical name first."""
    for name in entry.names:
        value = state.values.get(name)
        if value is not None:
            return value if isinstance(value, str) else json.dumps(value)
    return None


def read(wanted: SettingInstance) -> tuple[SettingInstance, Optional[str]]:
    """The actual state in the instance's scope, and the raw value held there."""
    from prefectwin.commands.setting import describe, read_scope
    from prefectwin.settings.plan import check_scope, shown
    from prefectwin.settings.target import open_session
    from prefectwin.system import get_adapter

    adapter = get_adapter()
    with open_session(wanted.python_path) as session:
        catalog = describe(session)
        entry = catalog.resolve(wanted.name, target="properties.name")
        check_scope(entry, wanted.scope, profile=None, is_windows=adapter.name == "windows")
        state = read_scope(session, adapter, entry, wanted.scope, catalog.profile, catalog.profiles_path)
        raw = _held(state, entry)
        actual = SettingInstance(
            name=wanted.name,
            scope=wanted.scope,
            ensure="Present" if raw is not None else "Absent",
            value=None if raw is None else shown(entry, raw),
            python_path=wanted.python_path,
            source=catalog.source_of(entry),
        )
    return actual, raw


def _change(wanted: SettingInstance, ctx: Context, *, what_if: bool) -> Any:
    params: dict[str, Any] = {"name": wanted.name, "scope": wanted.scope}
    if wanted.python_path:
        params["pythonPath"] = wanted.python_path
    if wanted.ensure == "Absent":
        return change.run("setting.remove", params, ctx, what_if=what_if)
    if wanted.value is None:
        raise InvalidArgument(
            f"PrefectSetting {wanted.name}: Value is required when Ensure is Present.",
            target="properties.value",
            remediation="Give Value, or Ensure = 'Absent' to remove the setting from the scope.",
        )
    return change.run("setting.set", {**params, "value": wanted.value}, ctx, what_if=what_if)


def test(wanted: SettingInstance, ctx: Context) -> tuple[SettingInstance, list[str], list[Any]]:
    plan = _change(wanted, ctx, what_if=True)
    actual, raw = read(wanted)
    differing = []
    if plan.actions:
        if actual.ensure != wanted.ensure:
            differing.append("ensure")
        if wanted.ensure == "Present" and raw != wanted.value or not differing:
            # A legacy alias still held in the scope is a difference in Value's place too.
            differing.append("value")
    return actual, differing, list(plan.actions)


def apply(wanted: SettingInstance, ctx: Context) -> tuple[SettingInstance, list[Any]]:
    done = _change(wanted, ctx, what_if=False)
    return read(wanted)[0], list(done.actions)


def export(python_path: Optional[str]) -> list[SettingInstance]:
    """Every setting a scope holds: the active profile, and on Windows the User and Machine
    environment variables."""
    from prefectwin.commands.setting import describe
    from prefectwin.settings.plan import shown
    from prefectwin.settings.target import open_session
    from prefectwin.system import get_adapter

    adapter = get_adapter()
    found: list[SettingInstance] = []
    with open_session(python_path) as session:
        catalog = describe(session)
        stored = session.ask("profile-get", profile=catalog.profile)["settings"]
        scopes: list[tuple[str, Any]] = [("Profile", stored.get)]
        if adapter.name == "windows":
            scopes += [(s, lambda n, s=s: adapter.get_environment_variable(n, s)) for s in ("User", "Machine")]
        for scope, lookup in scopes:
            for entry in sorted(catalog.entries, key=lambda e: e.name):
                raw = next((v for v in (lookup(n) for n in entry.names) if v is not None), None)
                if raw is None:
                    continue
                text = raw if isinstance(raw, str) else json.dumps(raw)
                found.append(
                    SettingInstance(
                        name=entry.name, scope=scope, value=shown(entry, text), python_path=python_path, source=catalog.source_of(entry)
                    )
                )
    return found
