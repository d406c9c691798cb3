"""`setting.*`: where a Prefect setting's value comes from, and changing it in the right place.

- `setting.get`    Get-PrefectSetting
- `setting.set`    Set-PrefectSetting
- `setting.remove` Remove-PrefectSetting (a command of its own rather than a flag on
  setting.set, so each cmdlet's parameters are exactly its command's params)

Everything Prefect knows is asked of the target interpreter through one `TargetSession`
(prefectwin/target/agent.py): values, sources, names, validation, and profile writes.
"""
from __future__ import annotations

import os
import sys
from typing import Any, ClassVar, Optional

from pydantic import Field, SecretStr, field_validator

from prefectwin.errors import InvalidArgument, NotFound, PrefectWinError
from prefectwin.models import Params, Result, not_blank
from prefectwin.registry import Context, command
from prefectwin.secrets import scrub
from prefectwin.change.model import Action, Planned
from prefectwin.settings.plan import EnvironmentAssignment, Scope

Name = Field(min_length=1, description="A PREFECT_* setting name; legacy aliases are accepted.")


class SettingGetParams(Params):
    name: Optional[list[str]] = Field(
        None, description="Setting names or aliases (wildcards allowed); default: every setting not at its default."
    )
    python_path: Optional[str] = Field(None, description="The interpreter Prefect runs under; default: the backend's own.")
    profile: Optional[str] = Field(None, description="Resolve as if this profile were active; default: the active profile.")
    show_secret: bool = Field(False, description="Show secret values instead of ********.")

    @field_validator("python_path", "profile")
    @classmethod
    def _not_blank(cls, value: Optional[str]) -> Optional[str]:
        return not_blank(value)


class SettingChangeParams(Params):
    name: str = Name
    scope: Scope = Field("Profile", description="Where to write: a Prefect profile, this session, or a persistent User/Machine variable.")
    profile: Optional[str] = Field(None, description="The profile to change (Scope Profile only); default: the active profile.")
    python_path: Optional[str] = Field(None, description="The interpreter Prefect runs under; default: the backend's own.")

    @field_validator("python_path", "profile")
    @classmethod
    def _not_blank(cls, value: Optional[str]) -> Optional[str]:
        return not_blank(value)


class SettingSetParams(SettingChangeParams):
    # Whether `value` is secret depends on `name`: change_setting registers it once the target
    # has said (secrets.register_found skips it), so a port is not masked as if it were one.
    secret_by_meaning: ClassVar[frozenset[str]] = frozenset({"value"})

    value: SecretStr = Field(description="The new value; validated by Prefect's own settings model before anything is written.")
    sync_api_url: bool = Field(False, description="When changing PREFECT_SERVER_API_PORT, update PREFECT_API_URL to match.")

    @field_validator("value")
    @classmethod
    def _value_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty; use Remove-PrefectSetting to remove a value")
        return value


class SettingRemoveParams(SettingChangeParams):
    pass


class Setting(Result):
    name: str
    aliases: list[str]
    value: Any = None
    source: str
    profile: str
    is_secret: bool = False


class SettingChange(Planned):
    # What the PowerShell wrapper sets in the caller's session (-Scope Process); it applies it
    # and withholds it from the object it outputs, so the answer's masking leaves it whole.
    handover: ClassVar[tuple[str, ...]] = ("environment",)

    changed: bool
    actions: list[Action]
    name: str
    aliases: list[str]
    scope: Scope
    profile: Optional[str] = None
    value: Optional[str] = None
    environment: list[EnvironmentAssignment] = Field(default_factory=list)


# -- talking to the target --------------------------------------------------------------------
def describe(session, *, show_secret: bool = False, profile: Optional[str] = None):
    from prefectwin.settings.catalog import Catalog

    catalog = Catalog.model_validate(session.ask("describe", showSecret=show_secret))
    if profile and profile not in catalog.profiles:
        raise NotFound(
            f"Profile '{profile}' does not exist in {catalog.profiles_path}.",
            target="params.profile",
            remediation=f"Use one of: {', '.join(catalog.profiles)}; or create it with 'prefect profile create {profile}'.",
        )
    return catalog


# -- setting.get ------------------------------------------------------------------------------
@command("setting.get", params=SettingGetParams, result=list[Setting])
def setting_get(params: SettingGetParams, ctx: Context) -> list[Setting]:
    """Effective Prefect settings: value, source (env:NAME, .env, prefect.toml, pyproject.toml, profile:NAME, default) and profile."""
    from prefectwin.settings.target import open_session

    if params.show_secret:
        from prefectwin.secrets import current

        current().reveal_answer = True  # asked for by name: the answer, never an event or error
    with open_session(params.python_path, params.profile) as session:
        ctx.events.verbose(f"Asking {session.hello['python']['executable']} (Prefect {session.hello['prefect']['version']}) for its settings.")
        catalog = describe(session, show_secret=params.show_secret, profile=params.profile)
    return [
        Setting(
            name=e.name,
            aliases=list(e.aliases),
            value=e.value,
            source=catalog.source_of(e),
            profile=catalog.profile,
            is_secret=e.secret,
        )
        for e in catalog.select(params.name)
    ]


# -- setting.set / setting.remove ---------------------------------------------------------------
def _validate(session, entry, value: str) -> None:
    from prefectwin.settings.plan import shown

    verdict = session.ask("validate", name=entry.name, value=value)
    if verdict["errors"]:
        message = f"Prefect refuses {entry.name}='{shown(entry, value)}': {'; '.join(verdict['errors'])}."
        raise InvalidArgument(
            scrub(message, value) if entry.secret else message,
            target="params.value",
            remediation=f"Give {entry.name} a value of the right type; nothing was written.",
        )


def check_home(path: str, adapter, warn) -> None:
    """PREFECT_HOME follows the diagnosis's rules: its settings.home check, run on the new path."""
    from prefectwin.diagnosis.checks import select
    from prefectwin.diagnosis.facts import CliFacts, EncodingFacts, Facts, PrefectFacts, PythonFacts
    from prefectwin.diagnosis.paths import path_facts

    facts = Facts(
        role="Server",
        os_name=sys.platform,
        requested_home=path,
        python=PythonFacts(),
        prefect=PrefectFacts(installed=True),
        cli=CliFacts(),
        encoding=EncodingFacts(),
        home=path_facts(path, adapter.drive_kind),
    )
    result = select(["settings.home"])[0].run(facts)
    if result.status == "Fail":
        raise InvalidArgument(result.message, target="params.value", remediation=result.remediation)
    if result.status == "Warning":
        warn(f"{result.message} {result.remediation or ''}".strip())


def read_scope(session, adapter, entry, scope: Scope, profile: str, profiles_path: Optional[str]):
    """What the scope holds now for every name of the setting, and for PREFECT_API_URL."""
    from prefectwin.settings.plan import API_URL, ScopeState

    names = [*entry.names, API_URL]
    if scope == "Profile":
        stored = session.ask("profile-get", profile=profile)["settings"]
        values = {n: stored.get(n) for n in names}
    elif scope == "Process":
        values = {n: os.environ.get(n) for n in names}
    else:
        values = {n: adapter.get_environment_variable(n, scope) for n in names}
    return ScopeState(scope=scope, values=values, profile=profile if scope == "Profile" else None, profiles_path=profiles_path)


def scope_state(adapter, names: list[str], scope: Scope, profiles_path: Optional[str]) -> dict:
    """The cheap state a settings plan's fingerprint covers: the profiles file as it is on disk,
    or the variables' values in the scope. Read again before a kept plan is applied."""
    import hashlib

    if scope == "Profile":
        try:
            with open(profiles_path or "", "rb") as handle:
                return {"profiles": hashlib.sha256(handle.read()).hexdigest()}
        except OSError:
            return {"profiles": None}
    if scope == "Process":
        return {n: os.environ.get(n) for n in names}
    return {n: adapter.get_environment_variable(n, scope) for n in names}


def change_setting(params: SettingChangeParams, value: Optional[str], ctx: Context, *, sync_api_url: bool = False) -> SettingChange:
    from prefectwin.change import session as session_module
    from prefectwin.change.model import fingerprint, new_plan
    from prefectwin.settings import plan
    from prefectwin.settings.target import open_session
    from prefectwin.system import get_adapter

    adapter = get_adapter()
    # PowerShell plans (whatIf) before it applies: warn once, at planning time.
    warn = ctx.events.warning if ctx.what_if else ctx.events.verbose
    with open_session(params.python_path, params.profile) as session:
        catalog = describe(session, profile=params.profile)
        entry = catalog.resolve(params.name)
        if entry.secret:
            from prefectwin.secrets import register

            register(value)  # the target's release holds this setting as a secret
        profile = params.profile or catalog.profile
        plan.check_scope(entry, params.scope, profile=params.profile, is_windows=adapter.name == "windows")
        if params.scope == "Machine" and not adapter.is_admin():
            from prefectwin.errors import PermissionDenied

            raise PermissionDenied(
                f"Setting the Machine environment variable {entry.name} needs administrator rights.",
                target="params.scope",
                remediation="Run PowerShell as administrator, or use -Scope User.",
            )
        if value is not None:
            _validate(session, entry, value)
            if entry.name == "PREFECT_HOME":
                check_home(value, adapter, warn)
        state = read_scope(session, adapter, entry, params.scope, profile, catalog.profiles_path)
        if entry.secret:
            from prefectwin.secrets import register

            register(*(state.values.get(n) for n in entry.names))  # the value it replaces is one too
        actions = plan.plan_value(entry, value, state)
        sync_actions, warnings = plan.plan_port_sync(entry, value, catalog, state, sync=sync_api_url)
        actions += sync_actions
        user = read_scope(session, adapter, entry, "User", profile, None) if params.scope == "Machine" else None
        warnings += plan.precedence_warnings(entry, catalog, params.scope, user) if value is not None else []
        for warning in warnings:
            warn(warning)
        for action in actions:
            ctx.events.verbose(("What if: " if ctx.what_if else "") + action.description)
        names = list(dict.fromkeys([*entry.names, plan.API_URL]))
        fingerprinted = lambda: scope_state(adapter, names, params.scope, catalog.profiles_path)  # noqa: E731
        proposal = session_module.Proposal(
            plan=new_plan(actions, fingerprinted()),
            recheck=lambda: fingerprint(fingerprinted()),
            show=lambda p: _setting_change(p, p.actions, False, entry, params, profile, value),
            execute=lambda p, confirm, run_ctx: _apply_setting(p, confirm, run_ctx, adapter, params, profile, entry, value, open_target),
        )
        open_target = [session]
        try:
            return session_module.offer(ctx, proposal)
        finally:
            open_target[0] = None  # a kept plan applied later opens a target of its own


def _setting_change(p, ran: list[Action], applied: bool, entry, params, profile: str, value: Optional[str]) -> SettingChange:
    from prefectwin.settings import plan

    environment = [
        EnvironmentAssignment(name=a.data["name"], value=a.data["value"].get_secret_value() if a.data.get("value") else None)
        for a in ran
        if a.scope == "Process" and applied
    ]
    return SettingChange(
        changed=bool(ran) and applied,
        actions=ran,
        name=entry.name,
        aliases=list(entry.aliases),
        scope=params.scope,
        profile=profile if params.scope == "Profile" else None,
        value=None if value is None else plan.shown(entry, value),
        environment=environment,
        plan_id=p.id,
        fingerprint=p.fingerprint,
    )


def _apply_setting(p, confirm, ctx: Context, adapter, params, profile: str, entry, value: Optional[str], open_target: list) -> SettingChange:
    from prefectwin.change import engine
    from prefectwin.settings.steps import STEPS, Runtime

    runtime = Runtime(adapter=adapter, python_path=params.python_path, profile=params.profile, session=open_target[0])
    try:
        ran = engine.apply(
            p,
            steps=STEPS,
            runtime=runtime,
            events=ctx.events,
            confirm=confirm,
            # The caller's session is changed by the PowerShell wrapper, and a killed backend's
            # own environment dies with it: only persistent scopes are journaled.
            journal=params.scope != "Process",
            command=f"setting.{'set' if value is not None else 'remove'}",
            summary=f"{'Set' if value is not None else 'Remove'}-PrefectSetting {entry.name} -Scope {params.scope}",
            context={"pythonPath": params.python_path, "profile": params.profile},
            secrets=(value,) if value else (),
            activity="Changing the Prefect setting",
        )
    finally:
        runtime.close()
    return _setting_change(p, ran, True, entry, params, profile, value)


@command("setting.set", params=SettingSetParams, result=SettingChange, changes_state=True)
def setting_set(params: SettingSetParams, ctx: Context) -> SettingChange:
    """Set a Prefect setting in a profile, this session, or a persistent User/Machine variable, after Prefect validates it."""
    return change_setting(params, params.value.get_secret_value(), ctx, sync_api_url=params.sync_api_url)


@command("setting.remove", params=SettingRemoveParams, result=SettingChange, changes_state=True)
def setting_remove(params: SettingRemoveParams, ctx: Context) -> SettingChange:
    """Remove a Prefect setting (and its legacy aliases) from a profile, this session, or a User/Machine variable."""
    return change_setting(params, None, ctx)
