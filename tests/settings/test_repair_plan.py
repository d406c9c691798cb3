"""The pure repair planner, fed by the real checks over hand-built facts."""
from __future__ import annotations

import pytest
from fakes.facts import make_facts, windows_facts

from prefectwin.diagnosis.checks import CHECKS, run_checks
from prefectwin.settings.repair import FIXABLE, NOT_ADMIN, NOT_WINDOWS, RepairContext, path_contains, path_with, plan_repair

WIN_PY = r"C:\Python312"
SCRIPTS = r"C:\Python312\Scripts"
WIN = RepairContext(is_windows=True, is_admin=True, process_path=r"C:\Windows", user_path=r"%USERPROFILE%\bin", user_path_expanded=r"C:\Users\a\bin")


def broken_windows_facts(**windows):
    return make_facts(
        os_name="Windows",
        python={"executable": WIN_PY + r"\python.exe", "base_prefix": WIN_PY, "prefix": WIN_PY, "scripts_dir": SCRIPTS, "platform": "win32", "preferred_encoding": "cp1252"},
        prefect={"server_host": "0.0.0.0", "api_url": "http://127.0.0.1:4300/api", "home": r"C:\ProgramData\Prefect"},
        cli={"resolved": None, "scripts_dir_launcher": SCRIPTS + r"\prefect.exe"},
        encoding={"console_code_page": 437},
        windows=windows_facts(**{"execution_policies": {"LocalMachine": "Restricted"}, "long_paths_enabled": False, **windows}),
    )


def plan(facts, ctx=WIN):
    return {r.check: (r, p) for r, p in plan_repair(run_checks(facts, CHECKS), ctx)}


def test_every_fixable_check_on_a_broken_windows_box_gets_exactly_its_action():
    planned = plan(broken_windows_facts())
    kinds = {check: [a.kind for a in r.actions] for check, (r, _) in planned.items() if r.status == "Planned"}
    assert kinds == {
        "prefect.cli-on-path": ["path.add"],
        "settings.api-url": ["profile.set"],
        "encoding": ["environment.set"],
        "windows.execution-policy": ["execution-policy.set"],
        "windows.firewall": ["firewall.add"],
        "windows.defender": ["defender.exclude"],
        "windows.long-paths": ["long-paths.enable"],
    }
    assert set(kinds) == set(FIXABLE)


def test_the_plan_carries_what_the_actions_need():
    planned = plan(broken_windows_facts())
    path = planned["prefect.cli-on-path"][0].actions[0]
    assert path.data == {"directory": SCRIPTS, "raw": r"%USERPROFILE%\bin;" + SCRIPTS, "previous": r"%USERPROFILE%\bin"}
    assert planned["prefect.cli-on-path"][1].environment == {"PATH": r"C:\Windows;" + SCRIPTS}
    assert planned["encoding"][1].environment == {"PYTHONIOENCODING": "utf-8"}
    assert planned["settings.api-url"][0].actions[0].data == {"name": "PREFECT_API_URL", "value": "http://127.0.0.1:4200/api"}
    assert planned["windows.firewall"][0].actions[0].data == {"name": "Prefect server 4200", "port": 4200, "remoteAddresses": ["LocalSubnet"], "profiles": ["Domain", "Private"]}
    assert planned["windows.defender"][0].actions[0].data == {"paths": [r"C:\ProgramData\Prefect", WIN_PY, r"C:\Windows\Temp"]}


def test_admin_only_fixes_are_skipped_with_the_reason_when_not_admin():
    planned = plan(broken_windows_facts(is_admin=False), RepairContext(is_windows=True, is_admin=False))
    for check in ("windows.firewall", "windows.defender", "windows.long-paths"):
        assert planned[check][0].status == "Skipped" and planned[check][0].reason == NOT_ADMIN
    assert planned["windows.execution-policy"][0].status == "Planned"  # CurrentUser needs no admin


def test_off_windows_the_windows_fixes_are_skipped_as_not_windows():
    facts = make_facts(cli={"resolved": None}, encoding={"pythonioencoding": "latin-1"}, prefect={"api_url": None})
    planned = plan(facts, RepairContext(is_windows=False, is_admin=False))
    for check in ("prefect.cli-on-path", "encoding", "windows.firewall", "windows.long-paths"):
        assert planned[check][0].status == "Skipped" and planned[check][0].reason == NOT_WINDOWS, check
    assert planned["settings.api-url"][0].status == "Planned"


def test_passing_checks_have_nothing_to_do():
    planned = plan(make_facts(os_name="Windows", windows=windows_facts(defender_exclusions=(r"C:\\",))))
    for check in ("settings.api-url", "windows.long-paths", "windows.execution-policy"):
        result = planned[check][0]
        assert result.status == "Skipped" and result.reason.startswith("nothing to do"), check


def test_failing_checks_without_a_fix_are_listed_with_their_remediation():
    planned = plan(make_facts(port={"bindable": False, "bind_error": "in use"}))
    result = planned["port.available"][0]
    assert result.status == "Skipped" and result.reason.startswith("no automatic fix") and result.fix is None


def test_group_policy_and_session_overrides_are_not_fought():
    gpo = plan(broken_windows_facts(execution_policies={"MachinePolicy": "AllSigned"}))["windows.execution-policy"][0]
    assert gpo.status == "Skipped" and "Group Policy" in gpo.reason


def test_api_url_from_an_environment_variable_is_not_overwritten_in_a_profile():
    facts = make_facts(prefect={"api_url": "http://127.0.0.1:1/api", "entries": [{"name": "PREFECT_API_URL", "value": "x", "source": "env"}]})
    result = plan(facts, RepairContext(is_windows=False, is_admin=False))["settings.api-url"][0]
    assert result.status == "Skipped" and "environment variable" in result.reason


def test_a_worker_s_api_url_is_never_guessed():
    result = plan(make_facts(role="Worker", prefect={"api_url": None}), RepairContext(is_windows=False, is_admin=False, role="Worker"))["settings.api-url"][0]
    assert result.status == "Skipped" and "must name its server" in result.reason


def test_user_path_already_holding_the_directory_only_mirrors_it_into_the_session():
    ctx = RepairContext(is_windows=True, is_admin=True, process_path=r"C:\Windows", user_path=SCRIPTS.lower() + "\\", user_path_expanded=SCRIPTS)
    result, fix = plan(broken_windows_facts(), ctx)["prefect.cli-on-path"]
    assert result.status == "Skipped" and result.reason.startswith("nothing to do") and fix.environment == {"PATH": r"C:\Windows;" + SCRIPTS}


@pytest.mark.parametrize("value", [None, "", ";", r"C:\a;;C:\b;"])
def test_path_with_appends_once_without_empty_entries(value):
    new = path_with(value, SCRIPTS)
    assert path_contains(new, SCRIPTS) and "" not in new.split(";") and new.endswith(SCRIPTS)
