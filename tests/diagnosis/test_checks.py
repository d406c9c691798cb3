"""Every check in prefectwin.diagnosis.checks, on hand-built Facts: each branch, no OS access."""
from __future__ import annotations

import subprocess
import sys

import pytest
from fakes.facts import HOME, VENV, make_facts, windows_facts

from prefectwin.diagnosis.checks import CHECK_NAMES, CHECKS, needs_of, run_checks, select
from prefectwin.diagnosis.checks.base import CheckResult
from prefectwin.diagnosis.checks.encoding import effective_output_encoding
from prefectwin.diagnosis.checks.port import is_prefect_server
from prefectwin.diagnosis.checks.prefect import LOWEST_SUPPORTED_TEXT, release_pins, version_tuple
from prefectwin.diagnosis.checks.server import version_skew
from prefectwin.diagnosis.checks.windows import (
    effective_policy,
    is_excluded,
    nssm_version_tuple,
    ports_cover,
)
from prefectwin.diagnosis.facts import (
    DatabaseFacts,
    FirewallRule,
    HealthFacts,
    HttpProbe,
    Listener,
    PathFacts,
    PortFacts,
)

BY_NAME = {c.name: c for c in CHECKS}


def run(name: str, facts) -> CheckResult:
    result = BY_NAME[name].run(facts)
    assert result.check == name
    return result


def expect(result: CheckResult, status: str, *fragments: str, remediation: tuple[str, ...] = ()) -> CheckResult:
    assert result.status == status, result
    for fragment in fragments:
        assert fragment in result.message, (fragment, result.message)
    for fragment in remediation:
        assert fragment in (result.remediation or ""), (fragment, result.remediation)
    if status in ("Warning", "Fail"):
        assert result.remediation, f"a {status} must say what to do: {result}"
    if status in ("Pass", "Skipped"):
        assert result.remediation is None, result
    return result


# ------------------------------------------------------------------------------------------
# registry of checks
# ------------------------------------------------------------------------------------------
def test_check_order_is_the_documented_one():
    assert CHECK_NAMES == (
        "python.found", "python.version", "python.path-spaces", "prefect.installed", "prefect.cli-on-path",
        "settings.home", "settings.profile", "settings.api-url", "port.available", "database", "encoding",
        "server.health", "server.auth", "server.version", "windows.admin", "windows.execution-policy", "windows.firewall", "windows.firewall-scope", "windows.defender",
        "windows.long-paths", "windows.nssm", "service.working-directory", "service.environment", "service.secrets-file", "service.temp",
        "service.path", "service.execution-policy", "service.home-access", "service.api-url-match", "service.auth-match",
        "service.database-match",
    )


def test_select_keeps_report_order_and_needs_only_what_is_asked():
    chosen = select(["encoding", "python.found"])
    assert [c.name for c in chosen] == ["python.found", "encoding"]
    assert needs_of(chosen) == {"probe", "encoding"}
    assert select(None) == CHECKS and select([]) == CHECKS
    assert "windows" not in needs_of(select(["port.available"]))


def test_healthy_facts_pass_every_check():
    facts = make_facts(windows=windows_facts(defender_exclusions=(HOME, "/usr", r"C:\Windows\Temp")))
    results = run_checks(facts, CHECKS)
    assert [r.check for r in results] == list(CHECK_NAMES)
    # The service.* checks describe a service (-ServiceName), which these facts are not.
    assert {r.check: r.status for r in results if r.status != "Pass" and not r.check.startswith("service.")} == {}
    assert {r.status for r in results if r.check.startswith("service.")} == {"Skipped"}


def test_decision_code_imports_no_adapter_and_nothing_heavy():
    code = (
        "import sys, prefectwin.diagnosis.checks\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('prefectwin.system', 'psutil', 'asyncpg', 'prefect.', 'clr')) or m == 'prefect')\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == ""


# ------------------------------------------------------------------------------------------
# python.*
# ------------------------------------------------------------------------------------------
class TestPython:
    def test_found(self):
        r = expect(run("python.found", make_facts()), "Pass", "Python 3.11.7", "/opt/prefect/venv/bin/python")
        assert r.data == {"executable": "/opt/prefect/venv/bin/python", "version": "3.11.7", "venv": True}

    def test_not_found_reports_the_probe_error(self):
        facts = make_facts(python={"executable": None, "requested_path": "/nope/python", "error": "/nope/python does not exist"})
        r = expect(run("python.found", facts), "Fail", "/nope/python does not exist", remediation=("-PythonPath",))
        assert r.data["requestedPath"] == "/nope/python"

    def test_not_found_without_error_text(self):
        expect(run("python.found", make_facts(python={"executable": None})), "Fail", "No Python interpreter")

    def test_version_supported(self):
        r = expect(run("python.version", make_facts()), "Pass", "3.11.7", "<3.15,>=3.10")
        assert r.data["prefectVersion"] == "3.8.8"

    def test_version_unsupported(self):
        facts = make_facts(python={"version": (3, 9, 18)})
        expect(run("python.version", facts), "Fail", "3.9.18 does not satisfy", remediation=("<3.15,>=3.10",))

    def test_version_too_new(self):
        expect(run("python.version", make_facts(python={"version": (3, 15, 0)})), "Fail", "does not satisfy")

    @pytest.mark.parametrize(
        "python, prefect, why",
        [
            ({"executable": None}, {}, "python.found"),
            ({}, {"installed": False, "version": None, "requires_python": None}, "prefect.installed"),
            ({}, {"requires_python": None}, "prefect.installed"),
            ({}, {"requires_python": "not a specifier"}, "could not be read"),
        ],
    )
    def test_version_skipped(self, python, prefect, why):
        expect(run("python.version", make_facts(python=python, prefect=prefect)), "Skipped", why)

    def test_path_spaces_pass(self):
        expect(run("python.path-spaces", make_facts()), "Pass", "no spaces")

    def test_path_spaces_warns_for_executable_and_environment(self):
        venv = r"C:\Program Files\Prefect\venv"
        facts = make_facts(python={"executable": venv + r"\Scripts\python.exe", "prefix": venv})
        r = expect(run("python.path-spaces", facts), "Warning", venv, "Spaces", remediation=(r"C:\Prefect\venv",))
        assert r.data["environment"] == venv

    def test_path_spaces_base_interpreter_only(self):
        facts = make_facts(python={"executable": "/opt/my python/bin/python3", "prefix": "/opt/my python"})
        expect(run("python.path-spaces", facts), "Warning", "/opt/my python")

    def test_path_spaces_skipped_without_interpreter(self):
        expect(run("python.path-spaces", make_facts(python={"executable": None})), "Skipped", "python.found")


# ------------------------------------------------------------------------------------------
# prefect.*
# ------------------------------------------------------------------------------------------
class TestPrefect:
    def test_installed(self):
        expect(run("prefect.installed", make_facts()), "Pass", "Prefect 3.8.8")

    def test_not_installed_gives_the_pinned_pip_command_for_that_interpreter(self):
        facts = make_facts(prefect={"installed": False, "version": None})
        r = expect(run("prefect.installed", facts), "Fail", "not installed", remediation=('"/opt/prefect/venv/bin/python" -m pip install',))
        assert '"fastapi<0.155"' in r.remediation and f'"prefect>={LOWEST_SUPPORTED_TEXT},<4"' in r.remediation

    def test_prefect_2_is_not_managed(self):
        expect(run("prefect.installed", make_facts(prefect={"version": "2.20.3"})), "Fail", "Prefect 2.20.3", "Prefect 3")

    def test_a_release_older_than_the_lowest_supported_names_both_versions(self):
        r = expect(run("prefect.installed", make_facts(prefect={"version": "3.0.11"})), "Fail", "3.0.11", "older than 3.1,", remediation=('-m pip install "prefect>=3.1,<4"',))
        assert r.data["lowestSupported"] == LOWEST_SUPPORTED_TEXT == "3.1"
        expect(run("prefect.installed", make_facts(prefect={"version": "3.1.0"})), "Pass", "3.1.0")

    def test_a_cli_that_dies_for_a_missing_module_fails_with_the_exception_and_its_pip_install(self):
        facts = make_facts(prefect={"version": "3.4.25", "cli_error": "ModuleNotFoundError: No module named 'importlib_metadata'", "cli_missing_module": "importlib_metadata"})
        r = expect(
            run("prefect.installed", facts), "Fail", "3.4.25", "'prefect' command dies at import", "No module named 'importlib_metadata'",
            remediation=('"/opt/prefect/venv/bin/python" -m pip install importlib_metadata',),
        )
        assert r.data["missingModule"] == "importlib_metadata"

    def test_a_missing_module_is_installed_under_its_distribution_name(self):
        facts = make_facts(prefect={"cli_error": "ModuleNotFoundError: No module named 'yaml'", "cli_missing_module": "yaml"})
        expect(run("prefect.installed", facts), "Fail", "yaml", remediation=("-m pip install PyYAML",))

    def test_an_import_that_breaks_otherwise_gets_a_reinstall(self):
        facts = make_facts(prefect={"settings_error": "AttributeError: module 'x' has no attribute 'y'", "settings_error_kind": "broken"})
        expect(run("prefect.installed", facts), "Fail", "fails at import", "AttributeError", remediation=('--force-reinstall "prefect==3.8.8"',))

    def test_a_setting_error_is_not_an_install_error(self):
        facts = make_facts(prefect={"settings_error": "ValidationError: bad", "settings_error_kind": "settings"})
        expect(run("prefect.installed", facts), "Pass", "3.8.8")

    def test_a_server_with_a_fastapi_it_cannot_import_gets_the_pin_but_a_worker_does_not(self):
        bad = {"version": "3.6.29", "dependencies": {"fastapi": "0.165.0"}}
        r = expect(run("prefect.installed", make_facts(prefect=bad)), "Fail", "fastapi 0.165.0", "prefect server start", remediation=('"prefect==3.6.29" "fastapi<0.116"',))
        assert r.data["dependency"] == "fastapi"
        expect(run("prefect.installed", make_facts(role="Worker", prefect=bad)), "Pass", "3.6.29")
        expect(run("prefect.installed", make_facts(prefect={"version": "3.9.1", "dependencies": {"fastapi": "0.165.0"}})), "Pass", "3.9.1")

    @pytest.mark.parametrize("version, pins", [("3.4.25", '"fastapi<0.116" importlib_metadata'), ("3.6.29", '"fastapi<0.116"')])
    def test_a_server_whose_fastapi_breaks_its_routes_gets_every_pin_of_its_release(self, version, pins):
        bad = {"version": version, "dependencies": {"fastapi": "0.150.0", "importlib_metadata": "10.2.0"}}
        r = expect(run("prefect.installed", make_facts(prefect=bad)), "Fail", "fastapi 0.150.0", "answers every request with an error")
        assert r.remediation.endswith(f'-m pip install "prefect=={version}" {pins}'), r.remediation

    def test_a_3_1_server_with_a_newer_fastapi_gets_the_3_1_pins(self):
        bad = {"version": "3.1.15", "dependencies": {"fastapi": "0.150.0", "importlib_metadata": "10.2.0"}}
        expect(run("prefect.installed", make_facts(prefect=bad)), "Fail", "fastapi 0.150.0", remediation=('"prefect==3.1.15" "fastapi<0.116" importlib_metadata',))
        fine = {"version": "3.1.15", "dependencies": {"fastapi": "0.115.14"}}
        expect(run("prefect.installed", make_facts(prefect=fine)), "Pass", "3.1.15")

    @pytest.mark.parametrize("text, parsed", [("3.4.25", (3, 4, 25)), ("3.1.0rc1", (3, 1, 0)), ("3.10", (3, 10, 0)), ("junk", None), (None, None)])
    def test_version_tuple(self, text, parsed):
        assert version_tuple(text) == parsed

    def test_skipped_without_interpreter(self):
        expect(run("prefect.installed", make_facts(python={"executable": None})), "Skipped", "python.found")

    def test_cli_on_path_same_scripts_dir(self):
        expect(run("prefect.cli-on-path", make_facts()), "Pass", "/opt/prefect/venv/bin/prefect")

    def test_cli_not_on_path_but_launcher_exists(self):
        facts = make_facts(cli={"resolved": None})
        expect(run("prefect.cli-on-path", facts), "Warning", "not on PATH", remediation=("Add /opt/prefect/venv/bin to PATH",))

    def test_cli_not_on_path_and_no_launcher(self):
        facts = make_facts(cli={"resolved": None, "scripts_dir_launcher": None})
        expect(run("prefect.cli-on-path", facts), "Warning", "not on PATH", remediation=("Reinstall Prefect",))

    def test_cli_from_another_python(self):
        facts = make_facts(cli={"resolved": "/usr/local/bin/prefect"})
        expect(
            run("prefect.cli-on-path", facts), "Warning", "/usr/local/bin/prefect", "another Python",
            remediation=("/opt/prefect/venv/bin/python -m prefect",),
        )

    def test_cli_with_trailing_separator_is_the_same_dir(self):
        facts = make_facts(python={"scripts_dir": "/opt/prefect/venv/bin/"})
        expect(run("prefect.cli-on-path", facts), "Pass")

    def test_cli_skipped_without_prefect(self):
        expect(run("prefect.cli-on-path", make_facts(prefect={"installed": False})), "Skipped", "prefect.installed")


# ------------------------------------------------------------------------------------------
# settings.*
# ------------------------------------------------------------------------------------------
class TestSettingsHome:
    def test_exists_and_writable(self):
        expect(run("settings.home", make_facts()), "Pass", "exists and is writable")

    def test_can_be_created(self):
        facts = make_facts(home={"exists": False, "is_dir": False, "writable": False, "creatable": True})
        expect(run("settings.home", facts), "Pass", "can be created")

    def test_cannot_be_created(self):
        facts = make_facts(home={"exists": False, "is_dir": False, "writable": False, "creatable": False})
        expect(run("settings.home", facts), "Fail", "cannot be created")

    def test_is_a_file(self):
        facts = make_facts(home={"exists": True, "is_dir": False, "writable": False})
        expect(run("settings.home", facts), "Fail", "is a file")

    def test_not_writable(self):
        facts = make_facts(home={"writable": False})
        expect(run("settings.home", facts), "Fail", "not writable", remediation=("Modify",))

    def test_mapped_drive_fails_with_the_unc_path(self):
        facts = make_facts(home=PathFacts(path=r"Z:\prefect", exists=True, is_dir=True, writable=True, drive_kind="mapped", unc_target=r"\\fs01\share\prefect"))
        r = expect(run("settings.home", facts), "Fail", r"Z:\prefect", "mapped drive", remediation=(r"-PrefectHome '\\fs01\share\prefect'",))
        assert r.data["uncTarget"] == r"\\fs01\share\prefect" and r.data["driveKind"] == "mapped"

    def test_mapped_drive_with_unknown_target_still_says_unc(self):
        facts = make_facts(home=PathFacts(path=r"Z:\prefect", exists=True, is_dir=True, writable=True, drive_kind="mapped"))
        expect(run("settings.home", facts), "Fail", remediation=(r"\\server\share",))

    def test_unc_with_sqlite_warns_and_recommends_postgres(self):
        facts = make_facts(home=PathFacts(path=r"\\fs01\share\prefect", exists=True, is_dir=True, writable=True, drive_kind="unc"))
        expect(run("settings.home", facts), "Warning", "network share", "database is locked", remediation=("PostgreSQL",))

    def test_unc_with_unknown_database_warns(self):
        facts = make_facts(database=None, home=PathFacts(path=r"\\fs01\share\prefect", exists=True, is_dir=True, writable=True, drive_kind="unc"))
        expect(run("settings.home", facts), "Warning", "network share")

    def test_unc_with_postgres_passes(self):
        facts = make_facts(
            home=PathFacts(path=r"\\fs01\share\prefect", exists=True, is_dir=True, writable=True, drive_kind="unc"),
            database=DatabaseFacts(kind="postgresql", url_masked="postgresql+asyncpg://u:********@db:5432/prefect", outcome="connected"),
        )
        expect(run("settings.home", facts), "Pass")

    def test_unknown_home(self):
        expect(run("settings.home", make_facts(home=None)), "Skipped", "not known")

    def test_unknown_home_without_prefect(self):
        expect(run("settings.home", make_facts(home=None, prefect={"installed": False})), "Skipped", "prefect.installed")

    def test_unknown_home_because_settings_broke(self):
        facts = make_facts(home=None, prefect={"settings_error": "ValidationError: PREFECT_API_URL bad", "settings_error_kind": "settings"})
        expect(run("settings.home", facts), "Fail", "could not load its settings", "PREFECT_API_URL bad", remediation=("invalid setting",))

    def test_a_broken_install_is_not_blamed_on_a_setting(self):
        facts = make_facts(
            home=None,
            prefect={"settings_error": "ModuleNotFoundError: No module named 'importlib_metadata'", "settings_error_kind": "missing-module", "missing_module": "importlib_metadata"},
        )
        r = expect(run("settings.home", facts), "Fail", "could not be asked", "importlib_metadata", remediation=('"/opt/prefect/venv/bin/python" -m pip install importlib_metadata',))
        assert "setting" not in r.remediation

    def test_a_path_prefect_cannot_read_is_neither_a_broken_install_nor_a_bad_setting(self):
        error = "NotADirectoryError: [Errno 20] Not a directory: '/srv/a-file/profiles.toml'"
        facts = make_facts(home=None, prefect={"settings_error": error, "settings_error_kind": "filesystem"})
        expect(run("prefect.installed", facts), "Pass", "3.8.8")
        r = expect(run("settings.home", facts), "Fail", "file or folder", "a-file", remediation=("PREFECT_PROFILES_PATH", "not a file"))
        assert "einstall" not in r.remediation and "pip" not in r.remediation

    def test_an_unsupported_release_is_left_to_prefect_installed(self):
        facts = make_facts(home=None, prefect={"version": "3.0.2", "settings_error": "NameError: x", "settings_error_kind": "broken"})
        for name in ("settings.home", "settings.profile", "settings.api-url"):
            expect(run(name, facts), "Skipped", "3.0.2", "prefect.installed")


class TestSettingsProfile:
    def test_worker_falling_back_to_ephemeral_warns(self):
        facts = make_facts(role="Worker", prefect={"api_url": None, "ephemeral_enabled": True, "profile": "ephemeral"})
        r = expect(run("settings.profile", facts), "Warning", "'ephemeral'", "invisible", remediation=("PREFECT_API_URL",))
        assert r.data["ephemeral"] is True and r.data["apiUrl"] is None

    def test_worker_with_api_url_passes(self):
        facts = make_facts(role="Worker", prefect={"ephemeral_enabled": True, "profile": "ephemeral"})
        expect(run("settings.profile", facts), "Pass", "'ephemeral'")

    def test_server_on_ephemeral_profile_passes(self):
        facts = make_facts(prefect={"api_url": None, "ephemeral_enabled": True, "profile": "ephemeral"})
        expect(run("settings.profile", facts), "Pass")

    def test_worker_without_url_and_ephemeral_off_passes(self):
        facts = make_facts(role="Worker", prefect={"api_url": None, "ephemeral_enabled": False})
        expect(run("settings.profile", facts), "Pass", "'local'")

    def test_settings_error(self):
        expect(run("settings.profile", make_facts(prefect={"settings_error": "boom"})), "Fail", "boom")

    def test_no_prefect(self):
        expect(run("settings.profile", make_facts(prefect={"installed": False})), "Skipped")


class TestSettingsApiUrl:
    def test_agrees(self):
        r = expect(run("settings.api-url", make_facts()), "Pass", "http://127.0.0.1:4200/api")
        assert r.data["serverPort"] == 4200

    def test_source_is_reported(self):
        facts = make_facts(prefect={"entries": ({"name": "PREFECT_API_URL", "value": "http://127.0.0.1:4200/api", "source": "env"},)})
        assert run("settings.api-url", facts).data["source"] == "env"

    def test_unset_on_server(self):
        facts = make_facts(prefect={"api_url": None})
        expect(run("settings.api-url", facts), "Warning", "not set", "will not find the server", remediation=("PREFECT_API_URL=http://127.0.0.1:4200/api",))

    def test_unset_on_worker(self):
        expect(run("settings.api-url", make_facts(role="Worker", prefect={"api_url": None})), "Warning", "cannot find its server")

    def test_port_mismatch(self):
        facts = make_facts(prefect={"api_url": "http://127.0.0.1:4300/api"})
        expect(run("settings.api-url", facts), "Warning", "port 4300", "server port is 4200", remediation=("http://127.0.0.1:4200/api",))

    def test_requested_port_wins_over_setting(self):
        facts = make_facts(requested_port=4300, prefect={"api_url": "http://127.0.0.1:4200/api"})
        expect(run("settings.api-url", facts), "Warning", "server port is 4300", remediation=("http://127.0.0.1:4300/api",))

    def test_path_must_end_in_api(self):
        expect(run("settings.api-url", make_facts(prefect={"api_url": "http://127.0.0.1:4200"})), "Warning", "/api")

    def test_host_mismatch(self):
        facts = make_facts(prefect={"api_url": "http://prefect01:4200/api"})
        expect(run("settings.api-url", facts), "Warning", "host prefect01", "binds 127.0.0.1")

    def test_loopback_names_are_equivalent(self):
        expect(run("settings.api-url", make_facts(prefect={"api_url": "http://localhost:4200/api"})), "Pass")

    def test_wildcard_bind_accepts_any_host(self):
        facts = make_facts(prefect={"api_url": "http://prefect01.corp:4200/api", "server_host": "0.0.0.0"})
        expect(run("settings.api-url", facts), "Pass")

    def test_suggestion_never_names_the_wildcard(self):
        facts = make_facts(prefect={"api_url": None, "server_host": "0.0.0.0"})
        r = expect(run("settings.api-url", facts), "Warning")
        assert "0.0.0.0" not in r.remediation and "127.0.0.1:4200" in r.remediation

    def test_worker_pointing_at_remote_server_passes(self):
        expect(run("settings.api-url", make_facts(role="Worker", prefect={"api_url": "https://prefect.corp/api"})), "Pass")

    def test_worker_with_requested_port_checks_it(self):
        facts = make_facts(role="Worker", requested_port=4300, prefect={"api_url": "http://prefect01:4200/api"})
        expect(run("settings.api-url", facts), "Warning", "port 4200", "server port is 4300")

    def test_default_https_port(self):
        expect(run("settings.api-url", make_facts(prefect={"api_url": "https://127.0.0.1/api"})), "Warning", "port 443")

    def test_invalid_port(self):
        expect(run("settings.api-url", make_facts(prefect={"api_url": "http://127.0.0.1:99999/api"})), "Fail", "invalid port")

    def test_settings_error(self):
        expect(run("settings.api-url", make_facts(prefect={"settings_error": "bad"})), "Fail")


# ------------------------------------------------------------------------------------------
# port.available
# ------------------------------------------------------------------------------------------
PREFECT_SERVER = Listener(address="127.0.0.1", port=4200, pid=5120, process_name="python.exe", cmdline=("python.exe", "-m", "prefect", "server", "start"))
OTHER = Listener(address="0.0.0.0", port=4200, pid=777, process_name="nginx", cmdline=("nginx", "-g", "daemon off;"))


class TestPort:
    def test_free(self):
        r = expect(run("port.available", make_facts()), "Pass", "4200 is free")
        assert r.data == {"host": "127.0.0.1", "port": 4200}

    def test_taken_by_another_program_names_pid_and_next_free(self):
        facts = make_facts(port=PortFacts(host="127.0.0.1", port=4200, bindable=False, bind_error="in use", owners=(OTHER,), next_free=4201))
        r = expect(run("port.available", facts), "Fail", "PID 777 (nginx)", remediation=("Stop PID 777", "-Port 4201"))
        assert r.data["owners"] == [{"pid": 777, "processName": "nginx", "address": "0.0.0.0", "isPrefectServer": False}]
        assert r.data["nextFreePort"] == 4201

    def test_taken_by_a_prefect_server_warns(self):
        facts = make_facts(port=PortFacts(host="127.0.0.1", port=4200, bindable=False, bind_error="in use", owners=(PREFECT_SERVER,), next_free=4201))
        r = expect(run("port.available", facts), "Warning", "PID 5120 (python.exe, a Prefect server)", "already running")
        assert r.data["owners"][0]["isPrefectServer"] is True

    def test_prefect_and_something_else_is_a_failure(self):
        facts = make_facts(port=PortFacts(host="127.0.0.1", port=4200, bindable=False, owners=(PREFECT_SERVER, OTHER), next_free=None))
        r = expect(run("port.available", facts), "Fail", "PID 5120", "PID 777")
        assert "-Port" not in r.remediation

    def test_owner_not_visible(self):
        facts = make_facts(port=PortFacts(host="127.0.0.1", port=4200, bindable=False, bind_error="in use", next_free=4202))
        expect(run("port.available", facts), "Fail", "not visible", remediation=("elevated", "-Port 4202"))

    def test_unknown_name(self):
        nameless = Listener(address="127.0.0.1", port=4200, pid=9)
        expect(run("port.available", make_facts(port=PortFacts(host="127.0.0.1", port=4200, bindable=False, owners=(nameless,)))), "Fail", "PID 9 (unknown)")

    def test_worker_skips(self):
        expect(run("port.available", make_facts(role="Worker", port=None)), "Skipped", "Workers")

    def test_unknown_port_skips(self):
        expect(run("port.available", make_facts(port=None)), "Skipped")

    @pytest.mark.parametrize(
        "cmdline, expected",
        [
            (("prefect", "server", "start"), True),
            (("/opt/venv/bin/python3", "/opt/venv/bin/prefect", "server", "start", "--port", "4200"), True),
            (("C:\\Prefect\\venv\\Scripts\\python.exe", "-m", "prefect", "server", "start"), True),
            (("uvicorn", "--factory", "prefect.server.api.server:create_app"), True),
            (("python", "-m", "http.server", "4200"), False),
            (("prefect", "worker", "start", "--pool", "p"), False),
            (("prefect", "server", "stop"), False),
            ((), False),
        ],
    )
    def test_is_prefect_server(self, cmdline, expected):
        assert is_prefect_server(Listener(address="127.0.0.1", port=1, cmdline=cmdline)) is expected


# ------------------------------------------------------------------------------------------
# database
# ------------------------------------------------------------------------------------------
PG = dict(kind="postgresql", url_masked="postgresql+asyncpg://prefect:********@db01:5432/prefect", host="db01", port=5432, database="prefect")


class TestDatabase:
    def test_sqlite_opens(self):
        r = expect(run("database", make_facts()), "Pass", "prefect.db opens")
        assert r.data["kind"] == "sqlite" and r.data["exists"] is True

    def test_sqlite_will_be_created(self):
        facts = make_facts(database={"exists": False, "opens": None})
        expect(run("database", facts), "Pass", "will be created")

    def test_sqlite_cannot_be_created(self):
        facts = make_facts(database={"exists": False, "opens": None, "parent_writable": False})
        expect(run("database", facts), "Fail", "folder is not writable")

    def test_sqlite_corrupt(self):
        facts = make_facts(database={"opens": False, "open_error": "file is not a database"})
        expect(run("database", facts), "Fail", "cannot be opened", "file is not a database")

    def test_sqlite_on_share(self):
        facts = make_facts(database={"on_network_share": True})
        expect(run("database", facts), "Warning", "network share", remediation=("PostgreSQL",))

    def test_sqlite_in_memory(self):
        facts = make_facts(database=DatabaseFacts(kind="sqlite", url_masked="sqlite+aiosqlite:///:memory:", memory=True, opens=True))
        expect(run("database", facts), "Warning", "in memory")

    def test_postgres_connected(self):
        r = expect(run("database", make_facts(database=DatabaseFacts(**PG, outcome="connected", server_version="15.18"))), "Pass", "PostgreSQL 15.18", "db01:5432")
        assert r.data["serverVersion"] == "15.18" and r.data["url"] == PG["url_masked"]

    def test_postgres_auth_failed(self):
        facts = make_facts(database=DatabaseFacts(**PG, outcome="auth-failed", error='password authentication failed for user "prefect"'))
        r = expect(run("database", facts), "Fail", "refused the credentials", remediation=("password",))
        assert r.data["outcome"] == "auth-failed"

    def test_postgres_unreachable(self):
        facts = make_facts(database=DatabaseFacts(**PG, outcome="unreachable", error="Connection refused"))
        r = expect(run("database", facts), "Fail", "unreachable", "Connection refused", remediation=("running",))
        assert r.data["outcome"] == "unreachable"

    def test_postgres_no_database(self):
        facts = make_facts(database=DatabaseFacts(**PG, outcome="no-database", error="x"))
        expect(run("database", facts), "Fail", "no database 'prefect'", remediation=("CREATE DATABASE prefect",))

    def test_postgres_other_error(self):
        facts = make_facts(database=DatabaseFacts(**PG, outcome="error", error="TooManyConnectionsError: sorry"))
        expect(run("database", facts), "Fail", "TooManyConnectionsError")

    def test_unsupported_url(self):
        facts = make_facts(database=DatabaseFacts(kind="other", url_masked="mysql://u:********@h/db"))
        expect(run("database", facts), "Fail", "Unsupported", "mysql://u:********@h/db")

    def test_worker_skips(self):
        expect(run("database", make_facts(role="Worker", database=None)), "Skipped", "Workers")

    def test_unknown_url_skips(self):
        expect(run("database", make_facts(database=None)), "Skipped")


# ------------------------------------------------------------------------------------------
# encoding of redirected output: PYTHONIOENCODING > PYTHONUTF8 (or -X utf8) > locale; the console
# code page never decides (PEP 528: a console gets UTF-8 anyway)
# ------------------------------------------------------------------------------------------
class TestEncoding:
    @pytest.mark.parametrize(
        "encoding, python, effective, decided_by",
        [
            ({"pythonioencoding": "cp1252", "pythonutf8": "1", "console_code_page": 65001}, {}, "cp1252", "PYTHONIOENCODING"),
            ({"pythonioencoding": "UTF8:strict", "console_code_page": 1252}, {"preferred_encoding": "cp1252"}, "utf-8", "PYTHONIOENCODING"),
            ({"pythonioencoding": "", "pythonutf8": "1", "console_code_page": 1252}, {}, "utf-8", "PYTHONUTF8"),
            ({"pythonutf8": "1", "console_code_page": 437}, {"preferred_encoding": "cp1252"}, "utf-8", "PYTHONUTF8"),
            ({"console_code_page": 1252}, {"utf8_mode": True}, "utf-8", "PYTHONUTF8"),
            ({"pythonutf8": "0", "console_code_page": 1252}, {"preferred_encoding": "UTF-8"}, "utf-8", "locale"),
            ({"console_code_page": 65001}, {"preferred_encoding": "cp1252"}, "cp1252", "locale"),
            ({}, {"preferred_encoding": "cp1252"}, "cp1252", "locale"),
            ({}, {"preferred_encoding": "UTF-8"}, "utf-8", "locale"),
            ({"locale_encoding": "latin-1"}, {"preferred_encoding": None}, "iso8859-1", "locale"),
        ],
    )
    def test_precedence(self, encoding, python, effective, decided_by):
        facts = make_facts(encoding=encoding, python=python)
        assert effective_output_encoding(facts) == (effective, decided_by)
        r = run("encoding", facts)
        assert r.data["effective"] == effective and r.data["decidedBy"] == decided_by
        if effective == "utf-8":
            expect(r, "Pass", decided_by)
        else:
            expect(r, "Warning", effective, decided_by, "charmap", remediation=("PYTHONIOENCODING=utf-8", "PYTHONUTF8=1"))

    def test_unknown_codec_name_is_reported_not_crashed_on(self):
        r = expect(run("encoding", make_facts(encoding={"pythonioencoding": "Klingon"})), "Warning", "klingon")
        assert r.data["pythonIoEncoding"] == "Klingon"


# ------------------------------------------------------------------------------------------
# server.health
# ------------------------------------------------------------------------------------------
def _health(health_ok: bool, ready_ok: bool, **extra) -> HealthFacts:
    url = "http://127.0.0.1:4200/api"
    return HealthFacts(
        api_url=url,
        health=HttpProbe(url=url + "/health", ok=health_ok, status=200 if health_ok else None, error=None if health_ok else "[Errno 111] Connection refused"),
        ready=HttpProbe(url=url + "/ready", ok=ready_ok, status=200 if ready_ok else (503 if health_ok else None), error=None if ready_ok else "HTTP 503 Service Unavailable"),
        **extra,
    )


class TestServerHealth:
    def test_healthy(self):
        r = expect(run("server.health", make_facts()), "Pass", "healthy and ready")
        assert r.data["health"] == 200 and r.data["ready"] == 200

    def test_up_but_not_ready(self):
        expect(run("server.health", make_facts(health=_health(True, False))), "Fail", "not ready", "503", remediation=("database",))

    def test_down_on_server_is_a_warning(self):
        expect(run("server.health", make_facts(health=_health(False, False))), "Warning", "does not answer", "Connection refused", remediation=("Start",))

    def test_down_for_worker_is_a_failure(self):
        expect(run("server.health", make_facts(role="Worker", health=_health(False, False))), "Fail", "does not answer")

    def test_no_api_url(self):
        expect(run("server.health", make_facts(health=None)), "Skipped", "PREFECT_API_URL")


def _access(status: int, auth: str = "none", cloud: bool = False) -> HealthFacts:
    url = "http://127.0.0.1:4200/api"
    probe = HttpProbe(url=url + "/admin/version", status=status, ok=status == 200, error=None if status == 200 else f"HTTP {status} Unauthorized")
    return _health(True, True, version=probe, access=probe, auth=auth, cloud=cloud)


class TestServerHealthAuthentication:
    """/health and /ready are open in Prefect; only the authenticated call proves access."""

    def test_refused_without_credentials_fails_naming_the_setting(self):
        r = expect(run("server.health", make_facts(role="Worker", health=_access(401))), "Fail", "requires authentication", "HTTP 401", "sends no credentials", remediation=("PREFECT_API_AUTH_STRING",))
        assert (r.data["auth"], r.data["accessStatus"]) == ("none", 401)

    def test_a_wrong_auth_string_fails(self):
        expect(run("server.health", make_facts(role="Worker", health=_access(401, "basic"))), "Fail", "not the server's", remediation=("PREFECT_SERVER_API_AUTH_STRING",))

    def test_an_api_key_against_a_self_hosted_server_says_to_unset_it(self):
        expect(run("server.health", make_facts(health=_access(401, "bearer"))), "Fail", "PREFECT_API_KEY", remediation=("unset PREFECT_API_KEY",))

    def test_cloud_refusal_names_the_api_key(self):
        expect(run("server.health", make_facts(role="Worker", health=_access(401, "bearer", cloud=True))), "Fail", "Prefect Cloud", remediation=("PREFECT_API_KEY",))

    def test_accepted_credentials_pass_and_say_so(self):
        expect(run("server.health", make_facts(role="Worker", health=_access(200, "basic"))), "Pass", "accepts this client's PREFECT_API_AUTH_STRING")

    def test_an_open_server_passes_without_credentials(self):
        r = expect(run("server.health", make_facts(health=_access(200))), "Pass", "healthy and ready.")
        assert "accepts" not in r.message


def _auth_entry(source: str = "env"):
    from prefectwin.diagnosis.facts import SettingEntry

    return SettingEntry(name="PREFECT_SERVER_API_AUTH_STRING", value="********", source=source)


class TestServerAuth:
    def test_loopback_passes_with_or_without_auth(self):
        expect(run("server.auth", make_facts(prefect={"server_host": "127.0.0.1"})), "Pass", "this computer only")
        expect(run("server.auth", make_facts(prefect={"server_host": "::1", "entries": (_auth_entry(),)})), "Pass", "requires basic auth")

    @pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "prefect01.corp.example"])
    def test_a_reachable_server_without_an_auth_string_fails(self, host):
        facts = make_facts(prefect={"server_host": host, "version": "3.9.1", "entries": (_auth_entry("defaults"),)})
        r = expect(run("server.auth", facts), "Fail", host, "without PREFECT_SERVER_API_AUTH_STRING", remediation=("-AuthCredential", "127.0.0.1"))
        assert r.data["authRequired"] is False

    def test_a_reachable_server_with_an_auth_string_passes_and_mentions_tls(self):
        expect(run("server.auth", make_facts(prefect={"server_host": "0.0.0.0", "version": "3.9.1", "entries": (_auth_entry(),)})), "Pass", "requires basic auth", "TLS")

    def test_a_release_without_the_setting_names_the_release_to_upgrade_to(self):
        facts = make_facts(prefect={"server_host": "0.0.0.0", "version": "3.0.11", "entries": ()})
        expect(run("server.auth", facts), "Fail", "Prefect 3.0.11 cannot require authentication", remediation=("3.1.15", '"prefect>=3.1.15,<4"'))

    def test_a_release_older_than_the_verified_one_warns(self):
        facts = make_facts(prefect={"server_host": "0.0.0.0", "version": "3.1.2", "entries": (_auth_entry(),)})
        expect(run("server.auth", facts), "Warning", "older than 3.1.15", remediation=("3.1.15",))

    def test_a_service_s_host_argument_beats_its_settings(self):
        from prefectwin.diagnosis.facts import ServiceFacts

        service = ServiceFacts(name="PrefectServer", role="Server", status="Running", account="LocalSystem", application="python", arguments=("-m", "prefect", "server", "start", "--host", "0.0.0.0"))
        facts = make_facts(prefect={"server_host": "127.0.0.1", "version": "3.9.1", "entries": (_auth_entry("defaults"),)}, service=service)
        expect(run("server.auth", facts), "Fail", "0.0.0.0")

    def test_a_worker_is_skipped(self):
        expect(run("server.auth", make_facts(role="Worker")), "Skipped", "worker")


def _versioned(server_body, client="3.8.8", role="Server", ok=True):
    health = _health(True, True, version=HttpProbe(url="http://127.0.0.1:4200/api/admin/version", status=200 if ok else 401, ok=ok, body=server_body))
    return make_facts(role=role, health=health, prefect={"version": client})


class TestServerVersion:
    def test_same_release_passes(self):
        r = expect(run("server.version", _versioned('"3.8.8"')), "Pass", "3.8.8")
        assert (r.data["clientVersion"], r.data["serverVersion"]) == ("3.8.8", "3.8.8")

    def test_an_older_client_passes(self):
        expect(run("server.version", _versioned('"3.9.1"', client="3.4.25", role="Worker")), "Pass", "3.4.25", "3.9.1")

    def test_a_worker_newer_than_its_server_warns_naming_both_versions(self):
        r = expect(
            run("server.version", _versioned('"3.1.15"', client="3.9.1", role="Worker")), "Warning", "3.9.1", "this worker's", "3.1.15", "newer",
            remediation=('-m pip install "prefect==3.1.15" "fastapi<0.116" importlib_metadata', "Upgrade the server to 3.9.1"),
        )
        assert (r.data["clientVersion"], r.data["serverVersion"]) == ("3.9.1", "3.1.15")

    def test_another_major_version_fails(self):
        expect(run("server.version", _versioned('"2.20.3"', client="3.9.1")), "Fail", "2.20.3", "3.9.1", "major")

    @pytest.mark.parametrize("body, ok", [(None, False), ("not json", True), ("{\"a\": 1}", True)])
    def test_an_unknown_server_version_is_skipped(self, body, ok):
        expect(run("server.version", _versioned(body, ok=ok)), "Skipped", "not known")

    def test_no_api_url_is_skipped(self):
        expect(run("server.version", make_facts(health=None)), "Skipped", "PREFECT_API_URL")

    @pytest.mark.parametrize("body", ['"3.9.1\\" & calc & \\""', '"3.9.1; rm -rf /"', '"3.9.1\\n"', '"3.9.1 "'])
    def test_a_server_version_that_is_no_plain_release_number_is_not_believed(self, body):
        # The server's answer reaches messages and a pip command an admin may paste.
        r = expect(run("server.version", _versioned(body, client="3.9.1", role="Worker")), "Skipped", "not known")
        assert "calc" not in r.message + (r.remediation or "") and "rm -rf" not in r.message + (r.remediation or "")

    @pytest.mark.parametrize(
        "version, pins",
        [
            ("3.1.15", ('"fastapi<0.116"', "importlib_metadata")),
            ("3.4.25", ('"fastapi<0.116"', "importlib_metadata")),
            ("3.6.29", ('"fastapi<0.116"',)),
            ("3.8.0", ('"fastapi<0.155"',)),
            ("3.9.1", ()),
            ("2.20.3", ()),
            ("junk", ()),
        ],
    )
    def test_the_pins_that_make_a_release_work_today(self, version, pins):
        assert release_pins(version) == pins

    @pytest.mark.parametrize(
        "client, server, skew",
        [("3.9.1", "3.1.15", "newer"), ("3.1.15", "3.9.1", None), ("3.4.25", "3.4.25", None), ("3.4.26", "3.4.25", "newer"), ("3.0.0", "2.20.0", "major"), (None, "3.1.15", None), ("3.9.1", "x", None)],
    )
    def test_version_skew(self, client, server, skew):
        assert version_skew(client, server) == skew


# ------------------------------------------------------------------------------------------
# windows.*
# ------------------------------------------------------------------------------------------
WINDOWS_CHECKS = [n for n in CHECK_NAMES if n.startswith("windows.")]


def win(role: str = "Server", prefect=None, python=None, **fields):
    """Windows facts with Windows paths."""
    return make_facts(
        role=role,
        os_name="Windows",
        python={"executable": r"C:\Prefect\venv\Scripts\python.exe", "prefix": r"C:\Prefect\venv", "base_prefix": r"C:\Python312", **(python or {})},
        prefect={"home": r"C:\ProgramData\Prefect", **(prefect or {})},
        windows=windows_facts(**fields),
    )


@pytest.mark.parametrize("name", WINDOWS_CHECKS)
def test_windows_checks_skip_off_windows_with_the_reason(name):
    expect(run(name, make_facts(os_name="Linux", windows=None)), "Skipped", "Windows only", "Linux")


class TestWindowsAdmin:
    def test_admin(self):
        expect(run("windows.admin", win(is_admin=True)), "Pass")

    def test_not_admin(self):
        expect(run("windows.admin", win(is_admin=False)), "Warning", "Not running as administrator", remediation=("Run as administrator",))


class TestExecutionPolicy:
    @pytest.mark.parametrize(
        "policies, effective, scope",
        [
            ({"MachinePolicy": "AllSigned", "UserPolicy": "Bypass", "Process": "Bypass", "CurrentUser": "Unrestricted", "LocalMachine": "RemoteSigned"}, "AllSigned", "MachinePolicy"),
            ({"UserPolicy": "Restricted", "Process": "Bypass", "LocalMachine": "RemoteSigned"}, "Restricted", "UserPolicy"),
            ({"Process": "Bypass", "CurrentUser": "Restricted", "LocalMachine": "Restricted"}, "Bypass", "Process"),
            ({"CurrentUser": "RemoteSigned", "LocalMachine": "Restricted"}, "RemoteSigned", "CurrentUser"),
            ({"MachinePolicy": "Undefined", "CurrentUser": "Undefined", "LocalMachine": "AllSigned"}, "AllSigned", "LocalMachine"),
            ({}, None, None),
        ],
    )
    def test_precedence(self, policies, effective, scope):
        assert effective_policy(policies) == (effective, scope)

    @pytest.mark.parametrize("policy", ["RemoteSigned", "Unrestricted", "Bypass"])
    def test_good_policies_pass(self, policy):
        r = expect(run("windows.execution-policy", win(execution_policies={"CurrentUser": policy})), "Pass", policy, "CurrentUser")
        assert r.data["effective"] == policy and r.data["scope"] == "CurrentUser"

    def test_restrictive_local_policy_can_be_fixed_by_the_user(self):
        r = run("windows.execution-policy", win(execution_policies={"LocalMachine": "AllSigned"}))
        expect(r, "Warning", "AllSigned (from LocalMachine)", remediation=("Set-ExecutionPolicy -Scope CurrentUser -ExecutionPolicy RemoteSigned",))

    def test_group_policy_wins_and_cannot_be_fixed_locally(self):
        r = run("windows.execution-policy", win(execution_policies={"MachinePolicy": "Restricted", "CurrentUser": "RemoteSigned"}))
        expect(r, "Warning", "Restricted (from MachinePolicy)", remediation=("Group Policy",))
        assert "Set-ExecutionPolicy" not in r.remediation

    def test_undefined_everywhere(self):
        expect(run("windows.execution-policy", win(execution_policies={})), "Warning", "undefined (Restricted")


def rule(name="Prefect", ports="4200", protocol="TCP", enabled=True, inbound=True, allow=True) -> FirewallRule:
    return FirewallRule(name=name, enabled=enabled, inbound=inbound, allow=allow, protocol=protocol, local_ports=ports)


class TestFirewall:
    PUBLIC = {"server_host": "0.0.0.0"}

    @pytest.mark.parametrize("spec", ["4200", "80, 443,4200", "4000-4300", "Any", "*", "4200-4200"])
    def test_port_ranges_cover(self, spec):
        assert ports_cover(spec, 4200)

    @pytest.mark.parametrize("spec", ["4201", "80,443", "4201-4300", "4000-4199", "RPC", "4200x", "-"])
    def test_port_ranges_do_not_cover(self, spec):
        assert not ports_cover(spec, 4200)

    def test_allowed_by_range_rule(self):
        r = expect(run("windows.firewall", win(prefect=self.PUBLIC, firewall_rules=(rule(ports="4000-4300"),))), "Pass", "Prefect")
        assert r.data["rules"] == ["Prefect"]

    @pytest.mark.parametrize(
        "bad",
        [rule(enabled=False), rule(inbound=False), rule(allow=False), rule(protocol="UDP"), rule(ports="8080")],
        ids=["disabled", "outbound", "block", "udp", "other-port"],
    )
    def test_rules_that_do_not_allow(self, bad):
        r = run("windows.firewall", win(prefect=self.PUBLIC, firewall_rules=(bad,)))
        expect(r, "Warning", "No enabled inbound rule allows TCP 4200", remediation=("New-NetFirewallRule", "-LocalPort 4200"))

    @pytest.mark.parametrize("protocol", ["TCP", "tcp", "6", "Any", "256"])
    def test_protocol_spellings(self, protocol):
        expect(run("windows.firewall", win(prefect=self.PUBLIC, firewall_rules=(rule(protocol=protocol),))), "Pass")

    def test_requested_port_is_checked(self):
        facts = win(prefect=self.PUBLIC, firewall_rules=(rule(ports="4200"),))
        facts = facts.model_copy(update={"requested_port": 4300})
        expect(run("windows.firewall", facts), "Warning", "TCP 4300")

    def test_loopback_needs_no_rule(self):
        expect(run("windows.firewall", win(firewall_rules=())), "Pass", "127.0.0.1 only")

    def test_rules_unreadable(self):
        facts = win(prefect=self.PUBLIC, firewall_rules=None, firewall_error="ManagementException: Access denied")
        expect(run("windows.firewall", facts), "Warning", "Access denied", remediation=("elevated",))

    def test_worker_skips(self):
        expect(run("windows.firewall", win(role="Worker", prefect=self.PUBLIC)), "Skipped", "outbound")

    def test_scope_warns_about_a_rule_open_to_every_address(self):
        # Fuller cases of windows.firewall-scope are in tests/test_least_privilege.py.
        wide = rule(name="PrefectWin-PrefectServer").model_copy(update={"remote_addresses": ("Any",), "profiles": ("Domain", "Private", "Public")})
        expect(run("windows.firewall-scope", win(firewall_rules=(wide,))), "Warning", "every address", remediation=("-RemoteAddress LocalSubnet",))
        scoped = wide.model_copy(update={"remote_addresses": ("LocalSubnet",)})
        expect(run("windows.firewall-scope", win(firewall_rules=(scoped,))), "Pass", "limited")


class TestDefender:
    WANTED = (r"C:\ProgramData\Prefect", r"C:\Python312", r"C:\Windows\Temp")

    def test_all_excluded_directly(self):
        expect(run("windows.defender", win(defender_exclusions=self.WANTED)), "Pass")

    def test_parent_exclusions_cover_case_insensitively(self):
        expect(run("windows.defender", win(defender_exclusions=("c:\\programdata\\", r"C:\PYTHON312", r"C:\Windows"))), "Pass")

    def test_missing_temp_is_named(self):
        r = run("windows.defender", win(defender_exclusions=self.WANTED[:2]))
        expect(r, "Warning", "TEMP", remediation=(r"Add-MpPreference -ExclusionPath 'C:\Windows\Temp'",))
        assert r.data["missing"] == {"TEMP": r"C:\Windows\Temp"}

    def test_a_sibling_with_a_common_prefix_is_not_covered(self):
        facts = win(prefect={"home": r"C:\Prefect2"}, defender_exclusions=(r"C:\Prefect", r"C:\Python312", r"C:\Windows\Temp"))
        r = expect(run("windows.defender", facts), "Warning", "PREFECT_HOME")
        assert r.data["missing"] == {"PREFECT_HOME": r"C:\Prefect2"}

    def test_requested_home_is_the_one_checked(self):
        facts = win(defender_exclusions=self.WANTED).model_copy(update={"requested_home": r"D:\Prefect"})
        assert run("windows.defender", facts).data["missing"] == {"PREFECT_HOME": r"D:\Prefect"}

    def test_python_dir_from_executable_when_base_prefix_unknown(self):
        facts = win(python={"base_prefix": None, "executable": r"C:\Py\python.exe"}, defender_exclusions=(r"C:\ProgramData\Prefect", r"C:\Windows\Temp"))
        assert run("windows.defender", facts).data["missing"] == {"Python": r"C:\Py"}

    def test_unreadable_for_non_admins(self):
        facts = win(defender_exclusions=None, defender_error="PermissionError: Defender shows its exclusions only to administrators")
        r = expect(run("windows.defender", facts), "Warning", "could not be read", "administrators", remediation=("elevated",))
        assert set(r.data["wanted"]) == {"PREFECT_HOME", "Python", "TEMP"}

    def test_is_excluded_helper(self):
        assert is_excluded(r"C:\A\B", (r"c:\a",))
        assert not is_excluded(r"C:\AB", (r"C:\A",))


class TestLongPaths:
    def test_enabled(self):
        expect(run("windows.long-paths", win(long_paths_enabled=True)), "Pass")

    @pytest.mark.parametrize("value", [False, None])
    def test_disabled_or_unset(self, value):
        expect(run("windows.long-paths", win(long_paths_enabled=value)), "Warning", "disabled", remediation=("LongPathsEnabled",))


class TestNssm:
    @pytest.mark.parametrize("version", ["2.24-101", "2.24.101.0", "2.24-103-gdee49fc", "2.25", "3.0"])
    def test_fixed_versions_pass(self, version):
        expect(run("windows.nssm", win(nssm_version=version)), "Pass", version, r"C:\Tools\nssm.exe")

    @pytest.mark.parametrize("version", ["2.24", "2.24.0.0", "2.23", "2.24-100"])
    def test_paused_bug_versions_warn(self, version):
        expect(run("windows.nssm", win(nssm_version=version)), "Warning", "paused", remediation=("2.24-101",))

    @pytest.mark.parametrize("version", [None, "", "unknown", "2"])
    def test_unreadable_version(self, version):
        expect(run("windows.nssm", win(nssm_version=version)), "Warning", "no readable version")

    def test_not_found(self):
        expect(run("windows.nssm", win(nssm_path=None, nssm_version=None)), "Warning", "not on PATH", remediation=("winget install NSSM.NSSM",))

    def test_version_parsing(self):
        assert nssm_version_tuple("2.24-101") == (2, 24, 101)
        assert nssm_version_tuple("2.24") == (2, 24, 0)
        assert nssm_version_tuple("2.24.101.0") == (2, 24, 101)
        assert nssm_version_tuple(None) is None


def test_every_check_has_tests():
    source = open(__file__, encoding="utf-8").read()
    untested = [name for name in CHECK_NAMES if f'run("{name}"' not in source]
    assert not untested, f"checks without a test here: {untested}"


def test_database_bad_url_names_the_encoding_fix():
    facts = make_facts(database={"kind": "postgresql", "url_masked": "postgresql+asyncpg://u:********@h/p", "host": "h", "port": 5432, "outcome": "bad-url", "error": "the user or password contains a raw '@'"})
    r = run("database", facts)
    assert r.status == "Fail" and "raw '@'" in r.message and "%40" in r.remediation


# ------------------------------------------------------------------------------------------
# service.* (Test-PrefectEnvironment -ServiceName); end to end in tests/diagnosis/test_service.py
# ------------------------------------------------------------------------------------------
def svc(role: str = "Worker", prefect=None, bind: str = "127.0.0.1", peer=None, **fields):
    from prefectwin.diagnosis.facts import PeerServerFacts, ServiceAccountFacts, ServiceFacts

    base = dict(
        name="PrefectWorker",
        role=role,
        status="Running",
        account="LocalSystem",
        application=f"{VENV}/bin/python",
        working_directory=HOME,
        working_directory_exists=True,
        nssm_environment_names=("PREFECT_API_URL", "PREFECT_HOME"),
        temp_dir="/tmp",
        temp_exists=True,
        path_entries=("/usr/bin",),
        account_facts=ServiceAccountFacts(principal="NT AUTHORITY\\SYSTEM", sid="S-1-5-18", execution_policies={"LocalMachine": "RemoteSigned"}),
        home=HOME,
        home_drive_kind="local",
        server=PeerServerFacts(name="PrefectServer", bind_host=bind, port=4200, **(peer or {})) if role == "Worker" else None,
    )
    base.update(fields)
    return make_facts(role=role, prefect=prefect or {}, service=ServiceFacts(**base))


class TestServiceChecks:
    def test_skipped_without_a_service(self):
        for name in [n for n in CHECK_NAMES if n.startswith("service.")]:
            expect(run(name, make_facts()), "Skipped", "-ServiceName")

    def test_working_directory(self):
        expect(run("service.working-directory", svc(env_file=f"{HOME}/.env")), "Pass", f"{HOME}/.env")
        expect(run("service.working-directory", svc(working_directory_exists=False)), "Fail", "does not exist", remediation=("AppDirectory",))

    def test_secrets_file(self):
        from prefectwin.services.secrets_file import ADMINISTRATORS_SID, SYSTEM_SID, AccessEntry, FileAccess

        path = f"{HOME}/PrefectWorker.secrets.toml"
        mine = AccessEntry(principal="NT SERVICE\\PrefectWorker", sid="S-1-5-80-1", rights=0x120089)
        admins = [AccessEntry(principal="SYSTEM", sid=SYSTEM_SID, rights=0x1F01FF), AccessEntry(principal="Administrators", sid=ADMINISTRATORS_SID, rights=0x1F01FF)]

        def access(*entries, **fields):
            return FileAccess(owner_sid=ADMINISTRATORS_SID, entries=(*admins, *entries), reader_sid="S-1-5-80-1", **fields).model_dump()

        def with_file(**fields):
            base = dict(secrets_file=path, secrets_file_exists=True, secrets_file_names=("PREFECT_API_AUTH_STRING",), secrets_file_access=access(mine))
            return svc(**{**base, **fields})

        expect(run("service.secrets-file", svc()), "Skipped", "no PrefectWin secrets file")
        expect(run("service.secrets-file", with_file()), "Pass", "only LocalSystem, SYSTEM and Administrators")
        users = AccessEntry(principal="BUILTIN\\Users", sid="S-1-5-32-545", rights=0x1200A9)
        expect(run("service.secrets-file", with_file(secrets_file_access=access(mine, users))), "Fail", "BUILTIN\\Users can read it", remediation=("Install-PrefectService",))
        # A deny entry for the group takes its read away; inheritance on is a problem of its own.
        denied = AccessEntry(principal="BUILTIN\\Users", sid="S-1-5-32-545", rights=0x1, allow=False)
        expect(run("service.secrets-file", with_file(secrets_file_access=access(mine, users, denied))), "Pass", "only LocalSystem")
        expect(run("service.secrets-file", with_file(secrets_file_access=access(mine, inherits=True))), "Fail", "inherits the access of its folder")
        expect(run("service.secrets-file", with_file(secrets_file_access=access())), "Fail", "cannot read it")
        writer = AccessEntry(principal="NT SERVICE\\PrefectWorker", sid="S-1-5-80-1", rights=0x1301BF)
        expect(run("service.secrets-file", with_file(secrets_file_access=access(writer))), "Fail", "can change it")
        expect(run("service.secrets-file", with_file(secrets_file_access={**access(mine), "owner": "alice", "owner_sid": "S-1-5-21-9"})), "Fail", "its owner is alice")
        expect(run("service.secrets-file", with_file(secrets_file_exists=False, secrets_file_access=None)), "Fail", "does not exist")
        expect(run("service.secrets-file", with_file(secrets_file_error="OSError: bad handle")), "Fail", "cannot be read")
        expect(run("service.secrets-file", with_file(secrets_file_error="PermissionDenied: cannot be read")), "Warning", "may not read", remediation=("as administrator",))
        # Secrets still in NSSM's registry values (a service installed before the secrets file).
        exposed = svc(nssm_environment_names=("PREFECT_API_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"))
        expect(run("service.secrets-file", exposed), "Fail", "PREFECT_SERVER_DATABASE_CONNECTION_URL in its NSSM registry values", remediation=("clears them from the registry",))

    def test_environment(self):
        expect(run("service.environment", svc()), "Pass", "2 NSSM variable(s)")
        expect(run("service.environment", svc(replaces_environment=True)), "Warning", "AppEnvironment", remediation=("AppEnvironmentExtra",))
        expect(run("service.environment", svc(env_file=".env", env_file_names=("PREFECT_API_URL",))), "Warning", "the environment wins")
        expect(run("service.environment", svc(nssm_environment_names=())), "Warning", "does not set PREFECT_HOME")
        expect(run("service.environment", svc(env_file=".env", env_file_error="PermissionError: denied")), "Fail", "cannot read")

    def test_temp(self):
        expect(run("service.temp", svc()), "Pass", "/tmp")
        from prefectwin.diagnosis.facts import ServiceAccountFacts

        expect(run("service.temp", svc(temp_dir=None)), "Fail", "no TEMP")
        # Off Windows (an account without a SID: the POSIX stand-in), Python's tempfile uses /tmp
        # rather than the working directory.
        expect(run("service.temp", svc(temp_dir=None, account_facts=ServiceAccountFacts(principal="root"))), "Pass", "Python uses /tmp")
        expect(run("service.temp", svc(temp_exists=False)), "Fail", "does not exist")

    def test_path(self):
        expect(run("service.path", svc()), "Pass", "1 folders")
        expect(run("service.path", svc(path_entries=())), "Fail", "no PATH")
        expect(run("service.path", svc(path_entries=("Z:\\bin",), path_mapped=("Z:\\bin",))), "Warning", "mapped", remediation=("UNC",))

    def test_execution_policy(self):
        from prefectwin.diagnosis.facts import ServiceAccountFacts

        expect(run("service.execution-policy", svc()), "Pass", "RemoteSigned")
        gpo = ServiceAccountFacts(principal="x", sid="S-1-5-18", execution_policies={"MachinePolicy": "AllSigned", "LocalMachine": "Bypass"})
        expect(run("service.execution-policy", svc(account_facts=gpo)), "Warning", "AllSigned", remediation=("Group Policy",))
        unloaded = ServiceAccountFacts(principal="x", sid="S-1-5-21-1", hive_loaded=False, execution_policies={"LocalMachine": "RemoteSigned"})
        expect(run("service.execution-policy", svc(account_facts=unloaded)), "Warning", "not loaded", remediation=("Start service",))
        unread = ServiceAccountFacts(principal="x", error="PermissionError: denied")
        expect(run("service.execution-policy", make_facts(windows=windows_facts(), service=svc(account_facts=unread).service)), "Warning", "could not be read")

    def test_home_access(self):
        from prefectwin.diagnosis.facts import ServiceAccountFacts

        unc = dict(home="\\\\fs01\\prefect", home_drive_kind="unc")
        who = ServiceAccountFacts(principal="NT AUTHORITY\\SYSTEM", sid="S-1-5-18", network_identity="CONTOSO\\H$")
        expect(run("service.home-access", svc()), "Pass", "local")
        expect(run("service.home-access", svc(account_facts=who, home_access=True, **unc)), "Pass", "CONTOSO\\H$")
        expect(run("service.home-access", svc(account_facts=who, home_access=False, **unc)), "Fail", "may not modify", remediation=("Grant CONTOSO\\H$",))
        anonymous = ServiceAccountFacts(principal="NT AUTHORITY\\LOCAL SERVICE", sid="S-1-5-19")
        expect(run("service.home-access", svc(account_facts=anonymous, home_access=False, **unc)), "Fail", "anonymous", remediation=("gMSA",))
        expect(run("service.home-access", svc(account_facts=who, home_access_error="denied", **unc)), "Warning", "could not be read")

    def test_api_url_match(self):
        expect(run("service.api-url-match", svc()), "Pass", "where server PrefectServer listens")
        expect(run("service.api-url-match", svc(prefect={"api_url": "http://127.0.0.1:4300/api"})), "Fail", "port 4200", remediation=("-ApiUrl http://127.0.0.1:4200/api",))
        expect(run("service.api-url-match", svc(prefect={"api_url": None})), "Fail", "ephemeral")
        expect(run("service.api-url-match", svc(role="Server")), "Skipped", "is a server")
        expect(run("service.api-url-match", svc(server=None, server_lookup="no PrefectWin server service is installed on this computer")), "Skipped", "no PrefectWin server")

    def test_auth_match(self):
        from pydantic import SecretStr

        expect(run("service.auth-match", svc()), "Pass", "Neither")
        expect(run("service.auth-match", svc(peer={"auth_string": SecretStr("a:b")})), "Fail", "sends none")
        rotated = svc(peer={"auth_string": SecretStr("a:b")}, auth_string=SecretStr("a:c"), arguments=("-m", "prefect", "worker", "start", "--pool", "etl"))
        result = expect(run("service.auth-match", rotated), "Fail", "different auth string")
        # After a rotation the worker did not follow: the message says so, the fix is the worker's install.
        assert "auth was changed" in result.message and "Install-PrefectService -Name PrefectWorker -Role Worker -Pool etl" in result.remediation
        assert "a:b" not in result.model_dump_json() and "a:c" not in result.model_dump_json()
        expect(run("service.auth-match", svc(peer={"auth_string": SecretStr("a:b")}, auth_string=SecretStr("a:b"))), "Pass", "expects")

    def test_database_match(self):
        from pydantic import SecretStr

        server_db = {"database_url": SecretStr("postgresql+asyncpg://p:pw@db/prefect"), "database_source": "environment"}
        expect(run("service.database-match", svc(peer=server_db)), "Pass", "postgresql+asyncpg://p:********@db/prefect")
        result = expect(run("service.database-match", svc(peer=server_db, database_url_source="environment")), "Warning", "not server PrefectServer's")
        assert ":pw@" not in result.model_dump_json()
        expect(run("service.database-match", svc(peer=server_db, prefect={"api_url": None})), "Fail", "ephemeral")

    def test_port_held_by_the_service_itself(self):
        owners = (Listener(address="127.0.0.1", port=4200, pid=4321, process_name="python.exe", cmdline=("python", "-m", "prefect", "server", "start")),)
        held = PortFacts(host="127.0.0.1", port=4200, bindable=False, bind_error="in use", owners=owners)
        facts = svc(role="Server", pids=(4321,))
        expect(run("port.available", make_facts(port=held, service=facts.service)), "Pass", "held by service PrefectWorker itself")
        other = svc(role="Server", pids=(999,))
        expect(run("port.available", make_facts(port=held, service=other.service)), "Warning", "already running")
