"""Hand-built diagnosis Facts for pure check tests.

    facts = make_facts(role="Worker", prefect={"api_url": None, "ephemeral_enabled": True})

Each section is a healthy default (a Linux server with Prefect 3 in a venv, PREFECT_HOME local
and writable, port free, SQLite opening, UTF-8 output, API healthy, not Windows). Pass a dict
to change some fields of a section (merged into the default), a model instance to replace it,
or None to remove an optional section.
"""
from __future__ import annotations

from typing import Any, Union

from prefectwin.diagnosis.facts import (
    CliFacts,
    DatabaseFacts,
    EncodingFacts,
    Facts,
    HealthFacts,
    HttpProbe,
    PathFacts,
    PortFacts,
    PrefectFacts,
    PythonFacts,
    WindowsFacts,
)

HOME = "/var/lib/prefect"
VENV = "/opt/prefect/venv"
_MISSING = object()


def _defaults() -> dict[str, Any]:
    return {
        "python": PythonFacts(
            requested_path=f"{VENV}/bin/python",
            executable=f"{VENV}/bin/python",
            version=(3, 11, 7),
            prefix=VENV,
            base_prefix="/usr",
            scripts_dir=f"{VENV}/bin",
            platform="linux",
            utf8_mode=False,
            preferred_encoding="UTF-8",
        ),
        "prefect": PrefectFacts(
            installed=True,
            version="3.8.8",
            requires_python="<3.15,>=3.10",
            profile="local",
            profiles_path=f"{HOME}/profiles.toml",
            home=HOME,
            api_url="http://127.0.0.1:4200/api",
            server_host="127.0.0.1",
            server_port=4200,
            ephemeral_enabled=False,
            database_url=f"sqlite+aiosqlite:///{HOME}/prefect.db",
        ),
        "cli": CliFacts(resolved=f"{VENV}/bin/prefect", scripts_dir_launcher=f"{VENV}/bin/prefect"),
        "home": PathFacts(path=HOME, exists=True, is_dir=True, creatable=True, writable=True, drive_kind="local"),
        "port": PortFacts(host="127.0.0.1", port=4200, bindable=True),
        "database": DatabaseFacts(
            kind="sqlite",
            url_masked=f"sqlite+aiosqlite:///{HOME}/prefect.db",
            path=f"{HOME}/prefect.db",
            exists=True,
            parent_writable=True,
            opens=True,
        ),
        "encoding": EncodingFacts(),
        "health": HealthFacts(
            api_url="http://127.0.0.1:4200/api",
            health=HttpProbe(url="http://127.0.0.1:4200/api/health", status=200, ok=True, body="true"),
            ready=HttpProbe(url="http://127.0.0.1:4200/api/ready", status=200, ok=True, body='{"message":"OK"}'),
            version=HttpProbe(url="http://127.0.0.1:4200/api/admin/version", status=200, ok=True, body='"3.8.8"'),
        ),
        "windows": None,
    }


def _section(default: Any, value: Any) -> Any:
    if value is _MISSING:
        return default
    if isinstance(value, dict):
        if default is None:
            raise ValueError("this section has no default to merge into; pass a model instance")
        # Validated, not model_copy(update=...): a str database_url must become a SecretStr, etc.
        return type(default).model_validate({**dict(default), **value})
    return value


def make_facts(role: str = "Server", os_name: str = "Linux", **sections: Union[dict, Any]) -> Facts:
    """Facts for a check test; keyword names are Facts fields (python, prefect, cli, home, port,
    database, encoding, health, windows, requested_port, requested_home)."""
    defaults = _defaults()
    values: dict[str, Any] = {}
    for name, default in defaults.items():
        values[name] = _section(default, sections.pop(name, _MISSING))
    values.update(sections)  # requested_port, requested_home
    return Facts(role=role, os_name=os_name, **values)


def windows_facts(**fields: Any) -> WindowsFacts:
    """A Windows machine: admin, RemoteSigned, no firewall rules, no Defender exclusions, long
    paths on, NSSM 2.24-101 (FileVersion 2.24.101.0). Override any field."""
    base = dict(
        is_admin=True,
        execution_policies={"LocalMachine": "RemoteSigned"},
        firewall_rules=(),
        defender_exclusions=(),
        long_paths_enabled=True,
        nssm_path=r"C:\Tools\nssm.exe",
        nssm_version="2.24.101.0",
        temp_dir=r"C:\Windows\Temp",
    )
    base.update(fields)
    return WindowsFacts(**base)
