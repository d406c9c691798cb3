"""Setting names as the target's Prefect defines them: canonical names, legacy aliases,
closest-name suggestions, and where each effective value comes from. Pure: built from what
the target agent (prefectwin/target/agent.py) reported."""
from __future__ import annotations

import difflib
import fnmatch
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic.alias_generators import to_camel

from prefectwin.errors import InvalidArgument

# Prefect's `config view` source names -> the names PrefectWin shows. "env" gains the variable
# that supplied the value ("env:PREFECT_API_DATABASE_TIMEOUT"), "profile" the profile's name.
_SOURCE_NAMES = {".env file": ".env", "prefect.toml": "prefect.toml", "pyproject.toml": "pyproject.toml", "defaults": "default"}


def source_name(prefect_source: str, *, env_name: Optional[str], profile: Optional[str]) -> str:
    if prefect_source == "env":
        return f"env:{env_name}" if env_name else "env"
    if prefect_source == "profile":
        return f"profile:{profile}"
    return _SOURCE_NAMES.get(prefect_source, prefect_source)


class SettingInfo(BaseModel):
    """One setting as the target's Prefect reports it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    name: str
    aliases: tuple[str, ...] = ()
    secret: bool = False
    value: Any = None
    source: str = "defaults"
    env_name: Optional[str] = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class Catalog(BaseModel):
    """Everything one `describe` answered: the active profile and every setting."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    profile: str
    profiles: tuple[str, ...] = ()
    profiles_path: Optional[str] = None
    home: Optional[str] = None
    api_url: Optional[str] = None
    server_host: Optional[str] = None
    server_port: Optional[int] = None
    entries: tuple[SettingInfo, ...] = Field(default_factory=tuple)
    _by_name: dict[str, SettingInfo] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        self._by_name = {name: entry for entry in self.entries for name in entry.names}

    @property
    def all_names(self) -> list[str]:
        return sorted(self._by_name)

    def find(self, name: str) -> Optional[SettingInfo]:
        return self._by_name.get(name.strip().upper())

    def closest(self, name: str) -> Optional[str]:
        match = difflib.get_close_matches(name.strip().upper(), self.all_names, n=1, cutoff=0.6)
        return self.find(match[0]).name if match else None

    def resolve(self, name: str, *, target: str = "params.name") -> SettingInfo:
        """The setting a name (canonical or alias, any case) means, or InvalidArgument naming
        the closest valid setting."""
        entry = self.find(name)
        if entry is not None:
            return entry
        close = self.closest(name)
        hint = f"Did you mean {close}?" if close else "Run Get-PrefectSetting without -Name, or 'prefect config view --show-defaults', for the valid names."
        raise InvalidArgument(
            f"'{name}' is not a Prefect setting." + (f" The closest valid setting is {close}." if close else ""),
            target=target,
            remediation=hint,
        )

    def select(self, names: Optional[list[str]]) -> list[SettingInfo]:
        """Settings for -Name: exact names/aliases, or wildcards over canonical names and
        aliases. Without names: every setting that is not at its default (what
        `prefect config view` shows)."""
        if not names:
            return [e for e in self.entries if e.source != "defaults"]
        chosen: dict[str, SettingInfo] = {}
        for name in names:
            if any(c in name for c in "*?["):
                pattern = name.strip().upper()
                for entry in self.entries:
                    if any(fnmatch.fnmatchcase(n, pattern) for n in entry.names):
                        chosen.setdefault(entry.name, entry)
            else:
                entry = self.resolve(name)
                chosen.setdefault(entry.name, entry)
        return list(chosen.values())

    def source_of(self, entry: SettingInfo) -> str:
        return source_name(entry.source, env_name=entry.env_name, profile=self.profile)
