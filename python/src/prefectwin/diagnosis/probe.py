"""Ask the target interpreter about itself and about Prefect, in one subprocess."""
from __future__ import annotations

import json
import os
import subprocess
from importlib import resources
from typing import Optional

from prefectwin.diagnosis.facts import PrefectFacts, PythonFacts, SettingEntry
from prefectwin.system import processes

PROBE_TIMEOUT_SEC = 60

# `python -c` puts '' (the working directory) first on sys.path, so a stray json.py or
# pydantic.py where the caller stands would be imported instead of the real module and the probe
# would misreport the target. Drop it before anything is imported. Prefect still reads .env and
# prefect.toml from the working directory: that goes by the cwd, not by sys.path.
_ISOLATE_IMPORTS = "import sys\nif sys.path and sys.path[0] == '':\n    del sys.path[0]\n"


def probe_source(source: str) -> str:
    """Source to run with `python -c` in the target, safe from modules in its working directory."""
    return _ISOLATE_IMPORTS + source


def probe_environment(prefect_home: Optional[str]) -> dict[str, str]:
    """The environment the target will see: ours, with PREFECT_HOME pinned if one was asked for."""
    env = dict(os.environ)
    if prefect_home:
        env["PREFECT_HOME"] = prefect_home
    return env


def run_probe(python: str, *, env: dict[str, str], cwd: Optional[str]) -> tuple[PythonFacts, PrefectFacts]:
    source = resources.files("prefectwin.diagnosis").joinpath("probe_script.py").read_text(encoding="utf-8")
    # `-c` rather than a script path, so no folder of ours goes on the target's sys.path.
    try:
        # Its own process group (a Job Object on Windows): a time-out or a stop signal ends
        # whatever the target started too, not just the interpreter.
        completed = processes.run([python, "-c", probe_source(source)], env=env, cwd=cwd, timeout=PROBE_TIMEOUT_SEC)
    except FileNotFoundError:
        return PythonFacts(requested_path=python, error=f"{python} does not exist"), PrefectFacts()
    except PermissionError:
        return PythonFacts(requested_path=python, error=f"{python} is not executable"), PrefectFacts()
    except OSError as exc:
        return PythonFacts(requested_path=python, error=f"{python} could not be started: {exc.strerror}"), PrefectFacts()
    except subprocess.TimeoutExpired:
        return (
            PythonFacts(requested_path=python, error=f"{python} did not answer within {PROBE_TIMEOUT_SEC} s"),
            PrefectFacts(),
        )
    try:
        data = json.loads(completed.stdout.decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return (
            PythonFacts(requested_path=python, error=f"{python} is not a working Python interpreter ({tail[0][:200]})"),
            PrefectFacts(),
        )
    return _python_facts(python, data["python"]), _prefect_facts(data)


def _python_facts(requested: str, raw: dict) -> PythonFacts:
    return PythonFacts(
        requested_path=requested,
        executable=raw["executable"],
        version=tuple(raw["version"]),
        prefix=raw["prefix"],
        base_prefix=raw["basePrefix"],
        scripts_dir=raw["scriptsDir"],
        platform=raw["platform"],
        utf8_mode=raw["utf8Mode"],
        preferred_encoding=raw["preferredEncoding"],
    )


def _prefect_facts(data: dict) -> PrefectFacts:
    dist = data["prefect"]
    settings = data.get("settings") or {}
    return PrefectFacts(
        installed=dist["installed"],
        version=dist["version"],
        requires_python=dist["requiresPython"],
        settings_error=data.get("error"),
        profile=settings.get("profile"),
        profiles_path=settings.get("profilesPath"),
        home=settings.get("home"),
        api_url=settings.get("apiUrl"),
        server_host=settings.get("serverHost"),
        server_port=settings.get("serverPort"),
        ephemeral_enabled=settings.get("ephemeralEnabled", False),
        database_url=settings.get("databaseUrl"),
        entries=tuple(SettingEntry(**entry) for entry in settings.get("entries", [])),
    )
