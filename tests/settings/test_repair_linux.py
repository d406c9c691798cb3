"""Repair-PrefectEnvironment for real on this (Linux) machine, through the real bridge: the
PREFECT_API_URL fix writes a real profile that a separate diagnosis then accepts, and the
Windows-only fixes are reported Skipped with the reason."""
from __future__ import annotations

import os
import sysconfig

from fakes.config import prefect_config_view

SCRIPTS = sysconfig.get_path("scripts")
NO_SCRIPTS_PATH = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if os.path.normpath(p) != os.path.normpath(SCRIPTS))


def request(command, params, what_if=False):
    return {"protocol": 1, "command": command, "params": params, "whatIf": what_if}


def by_check(results):
    return {r["check"]: r for r in results}


def test_the_api_url_fix_writes_a_real_profile_that_a_new_diagnosis_accepts(run_rpc, free_port):
    port = free_port()
    checks = ["settings.api-url"]
    planned = run_rpc(request("environment.repair", {"port": port, "check": checks}, what_if=True))
    assert planned.code == 0 and by_check(planned.response["result"]["results"])["settings.api-url"]["status"] == "Planned"
    assert not os.path.exists(os.environ["PREFECT_PROFILES_PATH"])  # whatIf wrote nothing

    applied = run_rpc(request("environment.repair", {"port": port, "check": checks}))
    result = by_check(applied.response["result"]["results"])["settings.api-url"]
    assert (result["checkStatus"], result["status"], result["after"]) == ("Warning", "Changed", "Pass")
    assert prefect_config_view()["PREFECT_API_URL"] == {"name": "PREFECT_API_URL", "value": f"http://127.0.0.1:{port}/api", "source": "profile"}
    rerun = run_rpc(request("environment.test", {"port": port, "check": checks}))
    assert rerun.checks["settings.api-url"]["status"] == "Pass"


def test_windows_only_fixes_are_skipped_as_not_windows(run_rpc):
    env = {"PATH": NO_SCRIPTS_PATH, "PYTHONIOENCODING": "latin-1"}
    checks = ["prefect.cli-on-path", "encoding", "windows.firewall", "windows.defender", "windows.long-paths", "windows.execution-policy"]
    result = run_rpc(request("environment.repair", {"check": checks}), env=env)
    assert result.code == 0, result.response
    results = by_check(result.response["result"]["results"])
    assert results["prefect.cli-on-path"]["checkStatus"] == "Warning" and results["encoding"]["checkStatus"] == "Warning"
    assert {c: (r["status"], r["reason"]) for c, r in results.items()} == dict.fromkeys(checks, ("Skipped", "not Windows"))
    assert result.response["result"]["changed"] is False and result.response["result"]["environment"] == []


def test_an_api_url_from_the_environment_is_left_alone_with_the_reason(run_rpc, free_port):
    env = {"PREFECT_API_URL": "http://127.0.0.1:1/api"}
    result = run_rpc(request("environment.repair", {"port": free_port(), "check": ["settings.api-url"]}), env=env)
    repaired = by_check(result.response["result"]["results"])["settings.api-url"]
    assert repaired["status"] == "Skipped" and "environment variable" in repaired["reason"]
    assert not os.path.exists(os.environ["PREFECT_PROFILES_PATH"])
