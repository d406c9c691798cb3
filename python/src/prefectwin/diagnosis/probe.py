"""Ask the target interpreter about itself and about Prefect: one run of the agent."""
from __future__ import annotations

import json
import os
import subprocess
from typing import Optional

from prefectwin.diagnosis.facts import PrefectFacts, PythonFacts, SettingEntry
from prefectwin.secrets import mask_url
from prefectwin.system import processes
from prefectwin.target.channel import agent_source, new_frame, noise_tail, parse_frame

PROBE_TIMEOUT_SEC = 60


def probe_environment(prefect_home: Optional[str], base: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The environment the target will see: ours (or `base`, a service's), with PREFECT_HOME
    pinned if one was asked for."""
    env = dict(os.environ if base is None else base)
    if prefect_home:
        env["PREFECT_HOME"] = prefect_home
    return env


def run_probe(python: str, *, env: dict[str, str], cwd: Optional[str]) -> tuple[PythonFacts, PrefectFacts]:
    frame = new_frame()
    # `-c` rather than a script path, so no folder of ours goes on the target's sys.path.
    try:
        # Its own process group (a Job Object on Windows): a time-out or a stop signal ends
        # whatever the target started too, not just the interpreter.
        completed = processes.run(
            [python, "-c", agent_source(frame)],
            input=(json.dumps({"op": "diagnose"}) + "\n").encode("ascii"),
            env=env,
            cwd=cwd,
            timeout=PROBE_TIMEOUT_SEC,
        )
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
    lines = completed.stdout.decode("utf-8", "replace").split("\n")
    frames = [m for m in (parse_frame(line, frame) for line in lines) if isinstance(m, dict)]
    hello = frames[0] if frames else None
    answer = frames[1] if len(frames) > 1 else None
    if hello is None or "python" not in hello:
        return PythonFacts(requested_path=python, error=f"{python} is not a working Python interpreter ({_why(completed, lines)})"), PrefectFacts()
    python_facts = _python_facts(python, hello["python"])
    if answer is None or not answer.get("ok"):
        # The interpreter works, but the agent died while asking Prefect (a crash in a C
        # extension, or os._exit in an import hook): Prefect is there, its answer is not.
        reason = (answer or {}).get("error") or _why(completed, lines)
        return python_facts, _prefect_facts(hello["prefect"], {"error": reason, "errorKind": "broken"})
    return python_facts, _prefect_facts(hello["prefect"], answer["result"])


def _why(completed: subprocess.CompletedProcess, stdout_lines: list[str]) -> str:
    stderr = completed.stderr.decode("utf-8", "replace").strip().splitlines()
    if stderr:
        return stderr[-1][:200]
    noise = noise_tail(stdout_lines)
    return f"exit code {completed.returncode}" + (f"; it printed: {noise}" if noise else ", no output")


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


def _prefect_facts(dist: dict, answer: dict) -> PrefectFacts:
    settings = answer.get("settings") or {}
    cli = answer.get("cli") or {}
    return PrefectFacts(
        installed=dist["installed"],
        version=dist["version"],
        requires_python=dist["requiresPython"],
        dependencies=dist.get("dependencies") or {},
        settings_error=mask_url(answer.get("error")),
        settings_error_kind=answer.get("errorKind"),
        missing_module=answer.get("missingModule"),
        cli_error=mask_url(cli.get("error")),
        cli_missing_module=cli.get("missingModule"),
        profile=settings.get("profile"),
        profiles_path=settings.get("profilesPath"),
        home=settings.get("home"),
        api_url=settings.get("apiUrl"),
        server_host=settings.get("serverHost"),
        server_port=settings.get("serverPort"),
        ephemeral_enabled=settings.get("ephemeralEnabled", False),
        database_url=settings.get("databaseUrl"),
        entries=tuple(SettingEntry(**entry) for entry in settings.get("entries", [])),
        unknown_env=tuple(settings.get("unknownEnv", [])),
    )
