"""Planning Set-/Remove-PrefectSetting: which scope may hold a setting, what to write there,
and what to warn about. Pure: `(desired change, current state) -> [Action]`."""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Literal, Optional

from pydantic import SecretStr

from prefectwin.errors import InvalidArgument
from prefectwin.hosts import client_host
from prefectwin.change.model import Action
from prefectwin.models import Result
from prefectwin.secrets import MASK, mask_url
from prefectwin.settings.catalog import Catalog, SettingInfo

Scope = Literal["Profile", "Process", "User", "Machine"]
API_URL = "PREFECT_API_URL"
SERVER_PORT = "PREFECT_SERVER_API_PORT"
# Prefect's own rule (`prefect config set` refuses them): they decide where profiles live.
NOT_IN_PROFILE = frozenset({"PREFECT_HOME", "PREFECT_PROFILES_PATH"})
# Sources that beat a profile value in Prefect's resolution order.
ABOVE_PROFILE = ("env", ".env file", "prefect.toml", "pyproject.toml")


class EnvironmentAssignment(Result):
    """A variable the PowerShell wrapper sets (value) or removes (null) in the caller's session."""

    name: str
    value: Optional[str] = None


def shown(entry: SettingInfo, value: Optional[str]) -> str:
    """A value as plans, messages and results may show it."""
    if value is None:
        return "(not set)"
    if entry.secret:
        return MASK
    return mask_url(value) or ""


def check_scope(entry: SettingInfo, scope: Scope, *, profile: Optional[str], is_windows: bool) -> None:
    if scope == "Profile" and entry.name in NOT_IN_PROFILE:
        raise InvalidArgument(
            f"{entry.name} cannot be stored in a profile: it decides where Prefect looks for its profiles.",
            target="params.scope",
            remediation=f"Use -Scope User, Machine or Process for {entry.name}.",
        )
    if scope != "Profile" and profile:
        raise InvalidArgument(
            f"-Profile applies to -Scope Profile only, not to {scope}.",
            target="params.profile",
            remediation="Omit -Profile, or use -Scope Profile.",
        )
    if scope in ("User", "Machine") and not is_windows:
        from prefectwin.errors import NotSupported

        raise NotSupported(
            f"-Scope {scope} sets a persistent Windows environment variable; this is not Windows.",
            target="params.scope",
            remediation="Use -Scope Profile, or set the variable in the service's unit or your shell profile.",
        )


@dataclass
class ScopeState:
    """What one scope holds now: variable name -> value (None when absent), and where it is."""

    scope: Scope
    values: dict[str, Optional[str]] = field(default_factory=dict)
    profile: Optional[str] = None
    profiles_path: Optional[str] = None

    def where(self) -> str:
        if self.scope == "Profile":
            return f"profile '{self.profile}' ({self.profiles_path})"
        if self.scope == "Process":
            return "this PowerShell session"
        return f"the {self.scope} environment"


def _change(entry: SettingInfo, name: str, value: Optional[str], state: ScopeState) -> Action:
    """Set `name` to `value` in the scope, or remove it (value None)."""
    verb = "set" if value is not None else "unset"
    if value is not None:
        description = f"Set {name} to '{shown(entry, value)}' in {state.where()}"
    else:
        why = f" (a legacy alias of {entry.name})" if name != entry.name else ""
        description = f"Remove {name}{why} from {state.where()}"
    data = {"name": name, "value": None if value is None else SecretStr(value), "previous": state.values.get(name)}
    if state.scope == "Profile":
        data["profile"] = state.profile
    return Action(
        kind=f"{'profile' if state.scope == 'Profile' else 'environment'}.{verb}",
        description=description,
        scope=state.scope,
        target=name,
        data=data,
    )


def plan_value(entry: SettingInfo, value: Optional[str], state: ScopeState) -> list[Action]:
    """Set the canonical name (dropping legacy aliases in the same scope, which it would shadow
    anyway), or remove every name of the setting from the scope. Nothing when already so."""
    actions = []
    if value is not None and state.values.get(entry.name) != value:
        actions.append(_change(entry, entry.name, value, state))
    names = entry.aliases if value is not None else entry.names
    actions.extend(_change(entry, n, None, state) for n in names if state.values.get(n) is not None)
    return actions


def url_with_port(url: Optional[str], port: int, host: Optional[str]) -> str:
    """PREFECT_API_URL for a server on `port`: the current URL with its port replaced, or a
    local URL when there is none."""
    if url:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.hostname or "127.0.0.1"
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.username:
            netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
        return urllib.parse.urlunsplit((parts.scheme, f"{netloc}:{port}", parts.path, parts.query, parts.fragment))
    return f"http://{client_host(host)}:{port}/api"


def url_port(url: str) -> Optional[int]:
    parts = urllib.parse.urlsplit(url)
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None


def plan_port_sync(
    entry: SettingInfo, value: Optional[str], catalog: Catalog, state: ScopeState, *, sync: bool
) -> tuple[list[Action], list[str]]:
    """Changing the server port: keep PREFECT_API_URL pointing at it (-SyncApiUrl) or warn."""
    if entry.name != SERVER_PORT or value is None:
        return [], []
    port = int(value)
    url = catalog.api_url
    if url and url_port(url) == port:
        return [], []
    wanted = url_with_port(url, port, catalog.server_host)
    if not sync:
        if not url:
            return [], []
        return [], [
            f"PREFECT_API_URL is {mask_url(url)}, which no longer matches server port {port}; "
            f"use -SyncApiUrl, or Set-PrefectSetting PREFECT_API_URL {mask_url(wanted)}."
        ]
    api = SettingInfo(name=API_URL)
    return plan_value(api, wanted, state), []


def precedence_warnings(entry: SettingInfo, catalog: Catalog, scope: Scope, user: Optional[ScopeState] = None) -> list[str]:
    """Where the new value would not win."""
    warnings = []
    if scope == "Profile" and entry.source in ABOVE_PROFILE:
        warnings.append(
            f"{entry.name} is also set by {catalog.source_of(entry)}, which overrides profile values; "
            f"Prefect keeps using that until it is removed."
        )
    if scope == "Machine" and user is not None:
        shadow = [n for n in entry.names if user.values.get(n) is not None]
        if shadow:
            warnings.append(f"The User environment variable {shadow[0]} overrides the Machine value for this user.")
    return warnings
