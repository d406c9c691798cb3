"""Every supported Prefect release as the target interpreter, for real (tests/target_venvs.py
builds one venv per release from the wheelhouse pins, once, into a cache outside the tree).

For each release: the diagnosis passes its Prefect and settings checks, and `setting.get`,
`setting.set` and `setting.remove` agree with that release's own `prefect config view
--show-sources`, run as its own process. Then the cases that must not pass: a broken install
(3.4.25 without importlib_metadata, as a fresh `pip install prefect==3.4.25` gives it today),
and targets that print before the agent can answer (a sitecustomize, a wrapper's banner).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from target_venvs import NEWEST, OLDEST, PINS, target_python

from prefectwin.diagnosis.checks.prefect import LOWEST_SUPPORTED, LOWEST_SUPPORTED_TEXT, release_pins, version_tuple

RELEASES = (OLDEST, "3.4.25", NEWEST)
SETTINGS_CHECKS = ("prefect.installed", "settings.home", "settings.profile", "settings.api-url")
OURS_FOR_PREFECTS = {"env": "env", "profile": "profile", ".env file": ".env", "prefect.toml": "prefect.toml", "pyproject.toml": "pyproject.toml", "defaults": "default"}


def request(command: str, params: dict, what_if: bool = False) -> dict:
    return {"protocol": 1, "command": command, "params": params, "whatIf": what_if}


def config_view(python: str, *, cwd: Path, env: dict | None = None) -> dict[str, dict]:
    """The oracle: that release's own `prefect config view --show-sources --show-defaults`,
    with `-o json` where the release has it, else its NAME='value' (from source) lines."""
    environment = {**os.environ, **(env or {})}
    base = [python, "-m", "prefect", "config", "view", "--show-sources", "--show-defaults"]
    done = subprocess.run([*base, "-o", "json"], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)
    if done.returncode == 0:
        return {s["name"]: s for s in json.loads(done.stdout)["settings"]}
    assert "No such option" in done.stdout + done.stderr, done.stdout + done.stderr
    done = subprocess.run(base, cwd=cwd, env={**environment, "COLUMNS": "100000"}, capture_output=True, text=True, timeout=120, check=True)
    found = {}
    for line in done.stdout.splitlines():
        match = re.fullmatch(r"(PREFECT_[A-Z0-9_]+)='(.*)' \(from ([^()]+)\)", line.strip())
        if match:
            found[match.group(1)] = {"name": match.group(1), "value": match.group(2), "source": match.group(3)}
    assert len(found) > 100, done.stdout[:2000]
    return found


@pytest.fixture(scope="module", params=RELEASES)
def release(request) -> tuple[str, str]:
    return request.param, target_python(request.param)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A working directory with a .env, as a service's would be."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / ".env").write_text("PREFECT_TASKS_DEFAULT_RETRIES=3\n", encoding="utf-8")
    return folder


def test_the_diagnosis_passes_its_prefect_and_settings_checks(run_rpc, release, prefect_home):
    version, python = release
    result = run_rpc(request("environment.test", {"pythonPath": python, "prefectHome": str(prefect_home), "check": list(SETTINGS_CHECKS)}))
    checks = result.checks
    assert {name: r["status"] for name, r in checks.items()} == {
        "prefect.installed": "Pass", "settings.home": "Pass", "settings.profile": "Pass",
        "settings.api-url": "Warning",  # no PREFECT_API_URL in the isolated environment
    }, checks
    assert checks["prefect.installed"]["data"]["version"] == version
    assert "PREFECT_API_URL is not set" in checks["settings.api-url"]["message"]


def test_setting_get_agrees_with_that_release_s_own_config_view(run_rpc, release, project):
    version, python = release
    env = {"PREFECT_LOGGING_LEVEL": "DEBUG", "PREFECT_SERVER_API_PORT": "4321"}
    result = run_rpc(request("setting.get", {"pythonPath": python, "name": ["*"]}), env=env, cwd=project)
    assert result.code == 0, result.response
    ours = {s["name"]: s for s in result.response["result"]}
    oracle = config_view(python, cwd=project, env=env)
    assert set(oracle) <= set(ours)
    for name, theirs in oracle.items():
        assert ours[name]["source"].split(":")[0] == OURS_FOR_PREFECTS[theirs["source"]], (version, name, ours[name], theirs)
    assert (ours["PREFECT_LOGGING_LEVEL"]["source"], ours["PREFECT_LOGGING_LEVEL"]["value"]) == ("env:PREFECT_LOGGING_LEVEL", "DEBUG")
    assert (ours["PREFECT_SERVER_API_PORT"]["source"], ours["PREFECT_SERVER_API_PORT"]["value"]) == ("env:PREFECT_SERVER_API_PORT", 4321)
    # The value is the one the release's Settings model resolves: 3.1 to 3.4 list a .env entry
    # as the source but their nested models do not read it (the runtime gets the default).
    resolved = subprocess.run(
        [python, "-c", "from prefect.settings import get_current_settings; print(get_current_settings().tasks.default_retries)"],
        cwd=project, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.split()[-1]
    assert (ours["PREFECT_TASKS_DEFAULT_RETRIES"]["source"], ours["PREFECT_TASKS_DEFAULT_RETRIES"]["value"]) == (".env", int(resolved))
    verbose = " ".join(line.get("message", "") for line in result.stderr_lines)
    assert f"Prefect {version}" in verbose


def test_set_and_remove_write_what_that_release_reads(run_rpc, release, tmp_path):
    version, python = release
    set_ = run_rpc(request("setting.set", {"pythonPath": python, "name": "PREFECT_SERVER_API_PORT", "value": "4555"}))
    assert set_.code == 0, set_.response
    assert config_view(python, cwd=tmp_path)["PREFECT_SERVER_API_PORT"] == {"name": "PREFECT_SERVER_API_PORT", "value": "4555", "source": "profile"}
    refused = run_rpc(request("setting.set", {"pythonPath": python, "name": "PREFECT_SERVER_API_PORT", "value": "abc"}))
    assert refused.code == 1 and refused.error["code"] == "InvalidArgument" and "Prefect refuses" in refused.error["message"]
    removed = run_rpc(request("setting.remove", {"pythonPath": python, "name": "PREFECT_SERVER_API_PORT"}))
    assert removed.code == 0 and [a["kind"] for a in removed.response["result"]["actions"]] == ["profile.unset"]
    assert config_view(python, cwd=tmp_path)["PREFECT_SERVER_API_PORT"]["source"] == "defaults"


# -- a broken install ------------------------------------------------------------------------------
def test_a_prefect_whose_cli_dies_at_import_is_a_fail_with_the_exception_and_its_pip_install(run_rpc, prefect_home):
    python = target_python("3.4.25-broken")
    # The premise, from Prefect itself: `import prefect` works, the CLI does not.
    assert subprocess.run([python, "-c", "import prefect"], capture_output=True, timeout=120).returncode == 0
    cli = subprocess.run([python, "-m", "prefect", "version"], capture_output=True, text=True, timeout=120)
    assert cli.returncode != 0 and "No module named 'importlib_metadata'" in cli.stderr

    result = run_rpc(request("environment.test", {"pythonPath": python, "prefectHome": str(prefect_home), "check": list(SETTINGS_CHECKS)}))
    installed = result.checks["prefect.installed"]
    assert installed["status"] == "Fail", installed
    assert "3.4.25" in installed["message"] and "ModuleNotFoundError: No module named 'importlib_metadata'" in installed["message"]
    assert installed["remediation"].endswith(f'"{python}" -m pip install importlib_metadata')
    for name in SETTINGS_CHECKS[1:]:
        remediation = result.checks[name]["remediation"] or ""
        assert "setting" not in remediation.lower() or name == "settings.api-url", result.checks[name]


# -- a target that prints before it answers -------------------------------------------------------
CHATTY_SITECUSTOMIZE = textwrap.dedent(
    """
    import sys
    print("Welcome to the corporate Python {not: json}")
    sys.stdout.write('{"python": "forged"}')
    """
)


def _site_packages(python: str) -> str:
    return subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, timeout=60, check=True).stdout.strip()


@pytest.fixture
def chatty_python(tmp_path: Path) -> str:
    """The newest release behind a real sitecustomize that prints to stdout (once without a
    newline): a venv of its own, so that only this target prints, not the backend, whose
    site-packages holds that sitecustomize and a .pth to the release's site-packages."""
    venv = tmp_path / "chatty-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python"))
    site = Path(_site_packages(python))
    # Debian's Python ships a sitecustomize in its standard library, which comes before any
    # site-packages on sys.path; a .pth (run before sitecustomize is imported) puts the folder
    # holding this one first, as a PYTHONPATH entry would, but for this interpreter only.
    startup = venv / "startup"
    startup.mkdir()
    (startup / "sitecustomize.py").write_text(CHATTY_SITECUSTOMIZE, encoding="utf-8")
    (site / "aaa-startup.pth").write_text(f"import sys; sys.path.insert(0, {str(startup)!r})\n", encoding="utf-8")
    (site / "prefect-release.pth").write_text(_site_packages(target_python(NEWEST)) + "\n", encoding="utf-8")
    return python


def test_a_sitecustomize_that_prints_changes_no_answer(run_rpc, chatty_python, prefect_home):
    python = chatty_python
    banner = subprocess.run([python, "-c", "import prefect"], capture_output=True, text=True, timeout=120)
    assert banner.returncode == 0 and banner.stdout.startswith("Welcome to the corporate Python")  # the premise: it really prints

    diagnosis = run_rpc(request("environment.test", {"pythonPath": python, "prefectHome": str(prefect_home), "check": list(SETTINGS_CHECKS)}))
    assert diagnosis.checks["prefect.installed"]["status"] == "Pass" and diagnosis.checks["settings.home"]["status"] == "Pass"
    assert diagnosis.checks["prefect.installed"]["data"]["version"] == NEWEST
    got = run_rpc(request("setting.get", {"pythonPath": python, "name": ["PREFECT_SERVER_API_PORT"]}))
    assert got.code == 0 and got.response["result"][0]["value"] == 4200, got.response
    changed = run_rpc(request("setting.set", {"pythonPath": python, "name": "PREFECT_SERVER_API_PORT", "value": "4556"}))
    assert changed.code == 0 and changed.response["result"]["changed"] is True, changed.response
    repair = run_rpc(request("environment.repair", {"pythonPath": python, "check": ["settings.api-url"]}, what_if=True))
    assert repair.code == 0, repair.response
    assert repair.response["result"]["results"][0]["status"] == "Planned"


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell wrapper")
def test_a_wrapper_that_prints_a_banner_changes_no_answer(run_rpc, tmp_path):
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "== managed interpreter =="\nexec "{target_python(NEWEST)}" "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    got = run_rpc(request("setting.get", {"pythonPath": str(wrapper), "name": ["PREFECT_SERVER_API_PORT"]}))
    assert got.code == 0 and got.response["result"][0]["source"] == "default", got.response
    diagnosis = run_rpc(request("environment.test", {"pythonPath": str(wrapper), "check": ["prefect.installed"]}))
    assert diagnosis.checks["prefect.installed"]["status"] == "Pass"


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell wrapper")
def test_a_target_that_prints_and_never_answers_is_a_probe_failure_not_an_internal_error(run_rpc, tmp_path):
    impostor = tmp_path / "not-python"
    impostor.write_text('#!/bin/sh\necho "{\\"python\\": 1}"\n', encoding="utf-8")
    impostor.chmod(0o755)
    got = run_rpc(request("setting.get", {"pythonPath": str(impostor)}))
    assert got.code == 1 and got.error["code"] == "ProbeFailed", got.response
    assert 'it printed only: {"python": 1}' in got.error["message"]
    diagnosis = run_rpc(request("environment.test", {"pythonPath": str(impostor), "check": ["python.found", "prefect.installed"]}))
    assert diagnosis.checks["python.found"]["status"] == "Fail" and "not a working Python" in diagnosis.checks["python.found"]["message"]


@pytest.mark.parametrize("version", RELEASES)
def test_each_target_venv_has_exactly_the_pins_the_diagnosis_names_for_its_release(version):
    """The pins a remediation offers are the ones these venvs were built (and work) with."""
    named = {pin.replace('"', "") for pin in release_pins(version)}
    assert set(PINS[version]) == {f"prefect=={version}", *named}


def test_the_oldest_tested_release_is_of_the_lowest_supported_minor():
    assert version_tuple(OLDEST)[:2] == LOWEST_SUPPORTED[:2]


# -- a release older than the lowest supported -------------------------------------------------------
def test_prefect_3_0_gets_the_too_old_error_naming_both_versions(run_rpc, prefect_home):
    python = target_python("3.0.11")
    diagnosis = run_rpc(request("environment.test", {"pythonPath": python, "prefectHome": str(prefect_home), "check": list(SETTINGS_CHECKS)}))
    installed = diagnosis.checks["prefect.installed"]
    assert installed["status"] == "Fail" and f"Prefect 3.0.11 in {python} is older than {LOWEST_SUPPORTED_TEXT}," in installed["message"]
    assert f'-m pip install "prefect>={LOWEST_SUPPORTED_TEXT},<4"' in installed["remediation"]
    # The path is judged on its own; what needs the release's settings is left to prefect.installed.
    assert diagnosis.checks["settings.home"]["status"] == "Pass"
    assert {diagnosis.checks[name]["status"] for name in ("settings.profile", "settings.api-url")} == {"Skipped"}
    for command, params in (("setting.get", {}), ("setting.set", {"name": "PREFECT_SERVER_API_PORT", "value": "4300"}), ("setting.remove", {"name": "PREFECT_SERVER_API_PORT"})):
        refused = run_rpc(request(command, {"pythonPath": python, **params}))
        assert refused.code == 1 and refused.error["code"] == "NotSupported", refused.response
        assert "3.0.11" in refused.error["message"] and LOWEST_SUPPORTED_TEXT in refused.error["message"]


def test_the_agent_fits_a_windows_command_line():
    """CreateProcess refuses a command line over 32767 characters; the agent goes in `-c`."""
    from prefectwin.target.channel import MAX_SOURCE_CHARS, agent_source, new_frame

    assert len(agent_source(new_frame())) < MAX_SOURCE_CHARS
