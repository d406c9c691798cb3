"""Gather the facts a set of checks needs. The slow part, the target-interpreter probe, runs
concurrently with everything that does not depend on its answer."""
from __future__ import annotations

import os
import platform
import shutil
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Optional

from prefectwin.diagnosis import database as database_facts_mod
from prefectwin.diagnosis import network, paths, probe
from prefectwin.diagnosis.facts import CliFacts, EncodingFacts, Facts, PrefectFacts, PythonFacts, ServiceFacts
from prefectwin.events import Events
from prefectwin.system.protocol import SystemAdapter

ACTIVITY = "Diagnosing the Prefect environment"


def _cli_facts(path_env: Optional[str]) -> CliFacts:
    return CliFacts(resolved=shutil.which("prefect", path=path_env))


def _with_launcher(cli: CliFacts, python: PythonFacts) -> CliFacts:
    if not python.scripts_dir:
        return cli
    names = ("prefect.exe", "prefect") if python.platform == "win32" else ("prefect",)
    launcher = next((os.path.join(python.scripts_dir, n) for n in names if os.path.isfile(os.path.join(python.scripts_dir, n))), None)
    return cli.model_copy(update={"scripts_dir_launcher": launcher})


def _revealed(secret) -> Optional[str]:
    return secret.get_secret_value() if secret is not None else None


def gather(
    *,
    role: str,
    needs: frozenset[str],
    adapter: SystemAdapter,
    events: Events,
    python_path: Optional[str] = None,
    port: Optional[int] = None,
    prefect_home: Optional[str] = None,
    environment: Optional[dict[str, str]] = None,
    cwd: Optional[str] = None,
    service: Optional[ServiceFacts] = None,
) -> Facts:
    """`environment` and `cwd`, when given, replace the backend's own for the target (a
    service's environment block and working directory); `service` is carried into the facts."""
    target = python_path or sys.executable
    env = probe.probe_environment(prefect_home, base=environment)
    if cwd is None:
        cwd = prefect_home if prefect_home and os.path.isdir(prefect_home) else None

    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="prefectwin-facts") as pool:
        events.progress(ACTIVITY, f"Asking {target} about Prefect", 10)
        probe_future: Optional[Future] = pool.submit(probe.run_probe, target, env=env, cwd=cwd) if needs & {"probe", "home", "port", "database", "health", "cli"} else None
        windows_future = pool.submit(adapter.windows_facts) if "windows" in needs else None
        cli_future = pool.submit(_cli_facts, env.get("PATH")) if "cli" in needs else None
        encoding = EncodingFacts(
            pythonioencoding=env.get("PYTHONIOENCODING"),
            pythonutf8=env.get("PYTHONUTF8"),
            console_code_page=adapter.console_code_page() if "encoding" in needs else None,
        )

        python_facts, prefect_facts = probe_future.result() if probe_future else (PythonFacts(requested_path=target), PrefectFacts())
        events.progress(ACTIVITY, "Checking PREFECT_HOME, the port, the database and the API", 50)
        events.verbose(f"Target interpreter: {python_facts.executable or target}; Prefect {prefect_facts.version or 'not installed'}.")

        home = prefect_home or prefect_facts.home
        server_port = port or prefect_facts.server_port or 4200
        bind_host = prefect_facts.server_host or "127.0.0.1"
        db_url = prefect_facts.database_url.get_secret_value() if prefect_facts.database_url else None

        home_future = pool.submit(paths.path_facts, home, adapter.drive_kind) if home and "home" in needs else None
        port_future = pool.submit(network.port_facts, bind_host, server_port) if "port" in needs and role == "Server" else None
        db_future = (
            pool.submit(database_facts_mod.database_facts, db_url, adapter.drive_kind)
            if db_url and "database" in needs and role == "Server"
            else None
        )
        health_future = (
            pool.submit(
                network.health_facts,
                prefect_facts.api_url,
                auth_string=_revealed(prefect_facts.api_auth_string),
                api_key=_revealed(prefect_facts.api_key),
                cloud_api_url=prefect_facts.cloud_api_url,
            )
            if prefect_facts.api_url and "health" in needs
            else None
        )

        facts = Facts(
            role=role,
            os_name=platform.system() or sys.platform,
            requested_port=port,
            requested_home=prefect_home,
            python=python_facts,
            prefect=prefect_facts,
            cli=_with_launcher(cli_future.result(), python_facts) if cli_future else CliFacts(),
            home=home_future.result() if home_future else None,
            port=port_future.result() if port_future else None,
            database=db_future.result() if db_future else None,
            encoding=encoding,
            health=health_future.result() if health_future else None,
            windows=windows_future.result() if windows_future else None,
            service=service,
        )
    events.progress(ACTIVITY, "Done", 100)
    return facts
