"""Set/Remove-PrefectSetting -Scope User|Machine through the real WindowsAdapter on a fake .NET
surface (tests/fakes/config.py): the exact Environment calls, admin rules, and rollback. The
target interpreter (values, validation) is the real one."""
from __future__ import annotations

import pytest
from fakes.config import ConfigDotNet, call

import prefectwin.system as system
from prefectwin.system.windows import WindowsAdapter

SET = "Environment.SetEnvironmentVariable"


@pytest.fixture
def windows(request):
    """Install WindowsAdapter(net=ConfigDotNet(**params)) as the adapter; yields the fake net."""
    net = ConfigDotNet(**getattr(request, "param", {}))
    previous = system._override
    system.use_adapter(WindowsAdapter(net=net))
    yield net
    system.use_adapter(previous)


def sets(net):
    return [args for name, args in net.calls if name == SET]


def setting(command, name, scope, value=None, what_if=False, **extra):
    params = {"name": name, "scope": scope, **extra}
    if value is not None:
        params["value"] = value
    return call(command, params, what_if=what_if)


@pytest.mark.parametrize("windows", [{"registry": {"HKCU": {"Environment": {"PREFECT_API_DATABASE_TIMEOUT": "7"}}}}], indirect=True)
def test_user_scope_sets_the_canonical_name_and_drops_the_legacy_alias(windows):
    response, code, events = setting("setting.set", "PREFECT_API_DATABASE_TIMEOUT", "User", "5")
    assert code == 0, response
    assert sets(windows) == [
        ("PREFECT_SERVER_DATABASE_TIMEOUT", "5", "User"),
        ("PREFECT_API_DATABASE_TIMEOUT", None, "User"),
    ]
    assert windows.user_environment() == {"PREFECT_SERVER_DATABASE_TIMEOUT": "5"}
    # idempotent: nothing more to write
    response, _, _ = setting("setting.set", "PREFECT_SERVER_DATABASE_TIMEOUT", "User", "5")
    assert response["result"]["actions"] == [] and len(sets(windows)) == 2


def test_what_if_reads_but_never_writes(windows):
    response, code, _ = setting("setting.set", "PREFECT_SERVER_API_PORT", "User", "4300", what_if=True)
    assert code == 0 and response["result"]["actions"][0]["description"] == "Set PREFECT_SERVER_API_PORT to '4300' in the User environment"
    assert sets(windows) == []


def test_a_refused_value_writes_nothing(windows):
    response, code, _ = setting("setting.set", "PREFECT_SERVER_API_PORT", "User", "abc")
    assert code == 1 and response["error"]["code"] == "InvalidArgument" and sets(windows) == []


def test_machine_scope_needs_administrator_rights(windows):
    response, code, _ = setting("setting.set", "PREFECT_SERVER_API_PORT", "Machine", "4300")
    assert code == 1 and response["error"]["code"] == "PermissionDenied" and response["error"]["category"] == "PermissionDenied"
    assert sets(windows) == []


@pytest.mark.parametrize("windows", [{"is_admin": True, "registry": {"HKCU": {"Environment": {"PREFECT_SERVER_API_PORT": "4100"}}}}], indirect=True)
def test_machine_scope_as_admin_warns_when_a_user_variable_shadows_it(windows):
    _, _, planning = setting("setting.set", "PREFECT_SERVER_API_PORT", "Machine", "4300", what_if=True)
    response, code, applying = setting("setting.set", "PREFECT_SERVER_API_PORT", "Machine", "4300")
    assert code == 0 and sets(windows) == [("PREFECT_SERVER_API_PORT", "4300", "Machine")]
    assert windows.machine_environment() == {"PREFECT_SERVER_API_PORT": "4300"}
    # warned once, at planning time (PowerShell always plans first); a verbose line when applying
    shadowed = "User environment variable PREFECT_SERVER_API_PORT overrides"
    assert [e["level"] for e in planning + applying if shadowed in e.get("message", "")] == ["warning", "verbose"]


@pytest.mark.parametrize(
    "windows", [{"registry": {"HKCU": {"Environment": {"PREFECT_SERVER_DATABASE_TIMEOUT": "5", "PREFECT_API_DATABASE_TIMEOUT": "7"}}}}], indirect=True
)
def test_remove_takes_every_name_of_the_setting_out_of_the_scope(windows):
    response, code, _ = setting("setting.remove", "PREFECT_SERVER_DATABASE_TIMEOUT", "User")
    assert code == 0 and sets(windows) == [
        ("PREFECT_SERVER_DATABASE_TIMEOUT", None, "User"),
        ("PREFECT_API_DATABASE_TIMEOUT", None, "User"),
    ]
    assert windows.user_environment() == {}


@pytest.mark.parametrize("windows", [{"registry": {"HKCU": {"Environment": {"PREFECT_API_DATABASE_TIMEOUT": "7"}}}}], indirect=True)
def test_a_failed_write_rolls_back_the_ones_already_done(windows):
    original = windows._call

    def second_set_fails(name, *args):
        original(name, *args)
        if name == SET and len(sets(windows)) == 2:
            raise OSError("registry is read-only")

    windows._call = second_set_fails
    response, code, _ = setting("setting.set", "PREFECT_API_DATABASE_TIMEOUT", "User", "5")
    assert code == 1 and response["error"]["code"] == "ApplyFailed"
    assert response["error"]["details"][1:] == [
        {"action": "Set PREFECT_SERVER_DATABASE_TIMEOUT to '5' in the User environment", "rolledBack": True, "undo": "Remove PREFECT_SERVER_DATABASE_TIMEOUT again"}
    ]
    assert sets(windows)[-1] == ("PREFECT_SERVER_DATABASE_TIMEOUT", None, "User")  # the undo
    assert windows.user_environment() == {"PREFECT_API_DATABASE_TIMEOUT": "7"}


def test_a_mapped_drive_prefect_home_is_refused_with_its_unc_path(windows):
    windows.drives["Z"] = 4
    windows.registry.setdefault("HKCU", {})[r"Network\Z"] = {"RemotePath": r"\\fs01\share"}
    response, code, _ = setting("setting.set", "PREFECT_HOME", "User", r"Z:\prefect")
    assert code == 1 and response["error"]["code"] == "InvalidArgument"
    assert "mapped drive" in response["error"]["message"] and r"\\fs01\share\prefect" in response["error"]["remediation"]
    assert sets(windows) == []


def test_a_unc_prefect_home_is_allowed_with_the_sqlite_warning(windows):
    _, _, events = setting("setting.set", "PREFECT_HOME", "User", r"\\fs01\share\prefect", what_if=True)
    response, code, _ = setting("setting.set", "PREFECT_HOME", "User", r"\\fs01\share\prefect")
    assert code == 0 and sets(windows) == [("PREFECT_HOME", r"\\fs01\share\prefect", "User")]
    assert any("network share" in e["message"] and "PostgreSQL" in e["message"] for e in events if e.get("level") == "warning")


def test_a_failed_profile_write_never_echoes_the_value():
    """Prefect's own error text could quote what it was given; the backend scrubs it."""
    from prefectwin.change import engine
    from prefectwin.change.model import new_plan
    from prefectwin.errors import ProbeFailed
    from prefectwin.events import SilentEvents
    from prefectwin.settings.steps import STEPS, Runtime
    from prefectwin.settings.catalog import SettingInfo
    from prefectwin.settings.plan import ScopeState, plan_value

    class Refusing:
        def ask(self, op, **request):
            raise ProbeFailed(f"Prefect could not {op}: bad value {request['set']['PREFECT_API_KEY']!r}")

    actions = plan_value(SettingInfo(name="PREFECT_API_KEY", secret=True), "pnu_leaky", ScopeState(scope="Profile", profile="p"))
    with pytest.raises(ProbeFailed) as err:
        engine.apply(new_plan(actions, {}), steps=STEPS, runtime=Runtime(adapter=None, session=Refusing()), events=SilentEvents(), journal=False)
    assert "pnu_leaky" not in err.value.message and "pnu_leaky" not in str(err.value)
