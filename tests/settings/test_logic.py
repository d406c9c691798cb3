"""Pure settings logic: names and aliases, closest names, source mapping, scope rules and the
Set/Remove planner. No interpreter, no OS."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from prefectwin.errors import InvalidArgument, NotSupported, PrefectWinError
from prefectwin.settings.catalog import Catalog, SettingInfo, source_name
from prefectwin.settings.plan import (
    ScopeState,
    check_scope,
    plan_port_sync,
    plan_value,
    precedence_warnings,
    shown,
    url_port,
    url_with_port,
)

TIMEOUT = SettingInfo(name="PREFECT_SERVER_DATABASE_TIMEOUT", aliases=("PREFECT_API_DATABASE_TIMEOUT",), value=10.0)
PORT = SettingInfo(name="PREFECT_SERVER_API_PORT", value=4200)
API_URL = SettingInfo(name="PREFECT_API_URL", value="http://127.0.0.1:4200/api", source="profile")
KEY = SettingInfo(name="PREFECT_API_KEY", secret=True, value="********", source="env", env_name="PREFECT_API_KEY")
HOME = SettingInfo(name="PREFECT_HOME", value="/srv/prefect", source="env", env_name="PREFECT_HOME")


def catalog(**kw) -> Catalog:
    base = dict(
        profile="local",
        profiles=("ephemeral", "local"),
        profiles_path="/p/profiles.toml",
        api_url="http://127.0.0.1:4200/api",
        server_host="127.0.0.1",
        server_port=4200,
        entries=(TIMEOUT, PORT, API_URL, KEY, HOME),
    )
    base.update(kw)
    return Catalog(**base)


# -- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["PREFECT_API_DATABASE_TIMEOUT", "prefect_api_database_timeout", " PREFECT_SERVER_DATABASE_TIMEOUT "])
def test_aliases_and_any_case_resolve_to_the_canonical_setting(name):
    assert catalog().resolve(name).name == "PREFECT_SERVER_DATABASE_TIMEOUT"


def test_unknown_name_is_invalid_argument_naming_the_closest_setting():
    with pytest.raises(InvalidArgument) as err:
        catalog().resolve("PREFECT_SERVER_API_PROT")
    assert "PREFECT_SERVER_API_PORT" in err.value.message and err.value.target == "params.name"


def test_a_name_nothing_resembles_still_gets_a_useful_remediation():
    with pytest.raises(InvalidArgument) as err:
        catalog().resolve("XYZZY")
    assert "closest" not in err.value.message and "Get-PrefectSetting" in err.value.remediation


def test_select_without_names_lists_what_is_not_at_its_default():
    assert [e.name for e in catalog().select(None)] == ["PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_HOME"]


def test_select_expands_wildcards_over_names_and_aliases_once_each():
    chosen = catalog().select(["PREFECT_API_DATABASE_*", "prefect_server_*", "PREFECT_SERVER_API_PORT"])
    assert [e.name for e in chosen] == ["PREFECT_SERVER_DATABASE_TIMEOUT", "PREFECT_SERVER_API_PORT"]


def test_a_wildcard_that_matches_nothing_is_not_an_error():
    assert catalog().select(["PREFECT_NOPE_*"]) == []


@pytest.mark.parametrize(
    "prefect, env_name, expected",
    [
        ("env", "PREFECT_API_DATABASE_TIMEOUT", "env:PREFECT_API_DATABASE_TIMEOUT"),
        ("profile", None, "profile:local"),
        (".env file", None, ".env"),
        ("prefect.toml", None, "prefect.toml"),
        ("pyproject.toml", None, "pyproject.toml"),
        ("defaults", None, "default"),
    ],
)
def test_prefect_sources_map_to_the_issue_s_names(prefect, env_name, expected):
    assert source_name(prefect, env_name=env_name, profile="local") == expected


# -- scope rules ------------------------------------------------------------------------------
def test_prefect_home_cannot_go_into_a_profile():
    with pytest.raises(InvalidArgument, match="cannot be stored in a profile"):
        check_scope(HOME, "Profile", profile=None, is_windows=True)


def test_profile_parameter_only_with_profile_scope():
    with pytest.raises(InvalidArgument, match="-Profile applies"):
        check_scope(PORT, "User", profile="local", is_windows=True)


@pytest.mark.parametrize("scope", ["User", "Machine"])
def test_persistent_scopes_are_windows_only(scope):
    with pytest.raises(NotSupported):
        check_scope(PORT, scope, profile=None, is_windows=False)


def test_process_and_profile_scopes_work_everywhere():
    check_scope(PORT, "Process", profile=None, is_windows=False)
    check_scope(PORT, "Profile", profile="local", is_windows=False)


# -- the planner ------------------------------------------------------------------------------
def profile_state(**values) -> ScopeState:
    return ScopeState(scope="Profile", values=values, profile="local", profiles_path="/p/profiles.toml")


def test_set_writes_the_canonical_name_and_drops_legacy_aliases_in_the_same_scope():
    state = ScopeState(scope="User", values={"PREFECT_API_DATABASE_TIMEOUT": "7"})
    actions = plan_value(TIMEOUT, "5", state)
    assert [(a.kind, a.data["name"]) for a in actions] == [
        ("environment.set", "PREFECT_SERVER_DATABASE_TIMEOUT"),
        ("environment.unset", "PREFECT_API_DATABASE_TIMEOUT"),
    ]
    assert "legacy alias" in actions[1].description


def test_set_is_idempotent():
    assert plan_value(PORT, "4300", profile_state(PREFECT_SERVER_API_PORT="4300")) == []


def test_remove_removes_every_name_present_and_nothing_else():
    state = ScopeState(scope="Process", values={"PREFECT_SERVER_DATABASE_TIMEOUT": "5", "PREFECT_API_DATABASE_TIMEOUT": "7"})
    assert [a.data["name"] for a in plan_value(TIMEOUT, None, state)] == ["PREFECT_SERVER_DATABASE_TIMEOUT", "PREFECT_API_DATABASE_TIMEOUT"]
    assert plan_value(TIMEOUT, None, ScopeState(scope="Process")) == []


def test_secret_values_never_appear_in_descriptions_or_the_wire_form():
    action = plan_value(KEY, "pnu_s3cret", profile_state())[0]
    assert "pnu_s3cret" not in action.description and "********" in action.description
    assert "pnu_s3cret" not in action.model_dump_json(by_alias=True)
    assert set(action.model_dump(by_alias=True)) == {"id", "kind", "description", "scope", "target", "dependsOn", "impact", "parameter"}


def test_urls_with_passwords_are_masked_even_when_the_setting_is_not_secret():
    assert shown(API_URL, "http://admin:hunter2@h:4200/api") == "http://admin:********@h:4200/api"


def test_port_change_warns_when_the_api_url_no_longer_matches():
    actions, warnings = plan_port_sync(PORT, "4300", catalog(), profile_state(), sync=False)
    assert actions == [] and "no longer matches server port 4300" in warnings[0]


def test_sync_api_url_updates_the_url_in_the_same_scope():
    actions, warnings = plan_port_sync(PORT, "4300", catalog(), profile_state(), sync=True)
    assert warnings == []
    assert [(a.kind, a.data["name"], a.data["value"].get_secret_value()) for a in actions] == [("profile.set", "PREFECT_API_URL", "http://127.0.0.1:4300/api")]


def test_no_port_warning_when_the_url_already_matches_or_is_not_set():
    assert plan_port_sync(PORT, "4200", catalog(), profile_state(), sync=False) == ([], [])
    assert plan_port_sync(PORT, "4300", catalog(api_url=None), profile_state(), sync=False) == ([], [])


def test_sync_without_a_url_sets_a_local_one_for_a_wildcard_host():
    actions, _ = plan_port_sync(PORT, "4300", catalog(api_url=None, server_host="0.0.0.0"), profile_state(), sync=True)
    assert actions[0].data["value"].get_secret_value() == "http://127.0.0.1:4300/api"


@given(port=st.integers(1, 65535), host=st.sampled_from(["127.0.0.1", "prefect.example.com", "[::1]", "u:p@h"]), path=st.sampled_from(["/api", "/prefect/api", ""]))
def test_url_with_port_changes_only_the_port(port, host, path):
    url = url_with_port(f"https://{host}:1234{path}", port, None)
    assert url_port(url) == port
    assert url.startswith("https://") and url.endswith(f":{port}{path}")


def test_profile_values_overridden_by_a_stronger_source_warn():
    assert "env:PREFECT_API_KEY" in precedence_warnings(KEY, catalog(), "Profile")[0]
    assert precedence_warnings(API_URL, catalog(), "Profile") == []


def test_a_user_variable_shadowing_a_machine_one_warns():
    user = ScopeState(scope="User", values={"PREFECT_API_DATABASE_TIMEOUT": "3"})
    assert "User environment variable PREFECT_API_DATABASE_TIMEOUT" in precedence_warnings(TIMEOUT, catalog(), "Machine", user)[0]


def test_set_value_param_is_a_secret_and_never_echoed_by_validation_errors():
    from prefectwin.commands.setting import SettingSetParams

    params = SettingSetParams(name="PREFECT_API_KEY", value="pnu_abc")
    assert isinstance(params.value, SecretStr) and "pnu_abc" not in repr(params)


# -- the POSIX adapter refuses what only Windows has (the whole surface: tests/system/test_layout.py)
@pytest.mark.parametrize("method, args", [("set_environment_variable", ("X", "1", "User")), ("set_user_path", ("C:\\bin",)), ("add_defender_exclusions", (["C:\\"],))])
def test_the_posix_adapter_refuses_windows_configuration_clearly(method, args):
    from prefectwin.system.posix import PosixAdapter

    with pytest.raises(NotSupported, match="Windows only"):
        getattr(PosixAdapter(), method)(*args)
