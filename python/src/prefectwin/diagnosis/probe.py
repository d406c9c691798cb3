"""Ask the target interpreter about itself and about Prefect: one `diagnose` request to its
agent (a warm one inside a `serve` session, see target/agents.py)."""
from __future__ import annotations

import os
from typing import Optional

from prefectwin.diagnosis.facts import PrefectFacts, PythonFacts, SettingEntry
from prefectwin.secrets import mask_url
from prefectwin.target import agents
from prefectwin.target.channel import AgentStopped, AgentTimedOut

PROBE_TIMEOUT_SEC = 60


def probe_environment(prefect_home: Optional[str], base: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The environment the target will see: ours (or `base`, a service's), with PREFECT_HOME
    pinned if one was asked for."""
    env = dict(os.environ if base is None else base)
    if prefect_home:
        env["PREFECT_HOME"] = prefect_home
    return env


def run_probe(python: str, *, env: dict[str, str], cwd: Optional[str]) -> tuple[PythonFacts, PrefectFacts]:
    """The facts of `python`, read in `env` and `cwd` (None: the backend's working directory)."""
    try:
        with agents.lease(python, env=env, cwd=cwd, timeout=PROBE_TIMEOUT_SEC) as agent:
            hello = agent.hello
            try:
                answer = agent.ask("diagnose")
            except AgentStopped as stopped:
                # The interpreter works, but the agent died while asking Prefect (a crash in a C
                # extension, or os._exit in an import hook): Prefect is there, its answer is not.
                answer = {"error": _why(stopped), "errorKind": "broken"}
            hello = agent.hello  # a restarted agent says hello anew
    except FileNotFoundError:
        return PythonFacts(requested_path=python, error=f"{python} does not exist"), PrefectFacts()
    except PermissionError:
        return PythonFacts(requested_path=python, error=f"{python} is not executable"), PrefectFacts()
    except OSError as exc:
        return PythonFacts(requested_path=python, error=f"{python} could not be started: {exc.strerror}"), PrefectFacts()
    except AgentTimedOut:
        return (
            PythonFacts(requested_path=python, error=f"{python} did not answer within {PROBE_TIMEOUT_SEC} s"),
            PrefectFacts(),
        )
    except AgentStopped as stopped:
        return PythonFacts(requested_path=python, error=f"{python} is not a working Python interpreter ({_why(stopped)})"), PrefectFacts()
    python_facts = _python_facts(python, hello["python"])
    if not answer.get("ok"):
        return python_facts, _prefect_facts(hello["prefect"], {"error": answer.get("error"), "errorKind": answer.get("errorKind") or "broken"})
    return python_facts, _prefect_facts(hello["prefect"], answer["result"])


def _why(stopped: AgentStopped) -> str:
    if stopped.stderr_tail:
        return stopped.stderr_tail[-1][:200]
    return f"exit code {stopped.returncode}" + (f"; it printed: {stopped.noise}" if stopped.noise else ", no output")


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
    from prefectwin.secrets import register_secret_setting

    settings = answer.get("settings") or {}
    register_secret_setting(settings.get("databaseUrl"))  # a SecretStr setting's value
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
        api_auth_string=settings.get("apiAuthString") or None,
        api_key=settings.get("apiKey") or None,
        cloud_api_url=settings.get("cloudApiUrl"),
        entries=tuple(SettingEntry(**entry) for entry in settings.get("entries", [])),
        unknown_env=tuple(settings.get("unknownEnv", [])),
    )
