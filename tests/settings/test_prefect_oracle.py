"""Get/Set/Remove-PrefectSetting against the real Prefect, with Prefect itself as the oracle:
`prefect config view --show-sources -o json`, run as a separate process with the same
PREFECT_HOME / PREFECT_PROFILES_PATH (isolated per test by conftest) and working directory."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes.config import prefect_config_view

OURS_FOR_PREFECTS = {"env": "env", "profile": "profile", ".env file": ".env", "prefect.toml": "prefect.toml", "pyproject.toml": "pyproject.toml", "defaults": "default"}


def request(command: str, params: dict, what_if: bool = False) -> dict:
    return {"protocol": 1, "command": command, "params": params, "whatIf": what_if}


def get(run_rpc, names=None, **kw):
    params = {"name": names} if names else {}
    cwd = kw.pop("cwd", None)
    env = kw.pop("env", None)
    params.update(kw)
    result = run_rpc(request("setting.get", params), env=env, cwd=cwd)
    assert result.code == 0, result.response
    return {s["name"]: s for s in result.response["result"]}


def set_(run_rpc, name, value, *, what_if=False, env=None, **kw):
    return run_rpc(request("setting.set", {"name": name, "value": value, **kw}, what_if), env=env)


def profiles_path() -> Path:
    return Path(os.environ["PREFECT_PROFILES_PATH"])


# -- Get: sources agree with Prefect's own ------------------------------------------------------
def test_every_source_agrees_with_prefect_config_view(run_rpc, tmp_path):
    """env (canonical and legacy alias), a profile, .env, prefect.toml, pyproject.toml and the
    defaults in one working directory: every setting Prefect lists has the same source."""
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("PREFECT_TASKS_DEFAULT_RETRIES=3\n", encoding="utf-8")
    (project / "prefect.toml").write_text("[server.api]\nport = 4321\n", encoding="utf-8")
    (project / "pyproject.toml").write_text("[tool.prefect.flows]\ndefault_retries = 2\n", encoding="utf-8")
    assert set_(run_rpc, "PREFECT_API_URL", "http://127.0.0.1:4321/api").code == 0
    assert set_(run_rpc, "PREFECT_LOGGING_LEVEL", "WARNING").code == 0  # beaten by env below
    env = {"PREFECT_LOGGING_LEVEL": "DEBUG", "PREFECT_API_DATABASE_TIMEOUT": "7"}

    ours = get(run_rpc, ["*"], cwd=project, env=env)
    oracle = prefect_config_view(cwd=project, env=env)

    profile = oracle.pop("profile")
    assert len(oracle) > 200 and set(oracle) <= set(ours)
    for name, theirs in oracle.items():
        expected = OURS_FOR_PREFECTS[theirs["source"]]
        source = ours[name]["source"]
        assert source.split(":")[0] == expected, (name, source, theirs)
        if expected == "profile":
            assert source == f"profile:{profile}"
    # the cases the issue names, with their values
    assert ours["PREFECT_LOGGING_LEVEL"]["source"] == "env:PREFECT_LOGGING_LEVEL"
    assert ours["PREFECT_LOGGING_LEVEL"]["value"] == "DEBUG"
    timeout = ours["PREFECT_SERVER_DATABASE_TIMEOUT"]
    assert (timeout["source"], timeout["value"], timeout["aliases"]) == ("env:PREFECT_API_DATABASE_TIMEOUT", 7.0, ["PREFECT_API_DATABASE_TIMEOUT"])
    assert (ours["PREFECT_API_URL"]["source"], ours["PREFECT_API_URL"]["value"]) == ("profile:ephemeral", "http://127.0.0.1:4321/api")
    assert (ours["PREFECT_TASKS_DEFAULT_RETRIES"]["source"], ours["PREFECT_TASKS_DEFAULT_RETRIES"]["value"]) == (".env", 3)
    assert (ours["PREFECT_SERVER_API_PORT"]["source"], ours["PREFECT_SERVER_API_PORT"]["value"]) == ("prefect.toml", 4321)
    assert (ours["PREFECT_FLOWS_DEFAULT_RETRIES"]["source"], ours["PREFECT_FLOWS_DEFAULT_RETRIES"]["value"]) == ("pyproject.toml", 2)
    assert ours["PREFECT_SERVER_DATABASE_ECHO"]["source"] == "default"
    assert all(s["profile"] == "ephemeral" for s in ours.values())


def test_the_server_name_wins_over_its_legacy_alias(run_rpc):
    env = {"PREFECT_SERVER_DATABASE_TIMEOUT": "5", "PREFECT_API_DATABASE_TIMEOUT": "9"}
    ours = get(run_rpc, ["PREFECT_API_DATABASE_TIMEOUT"], env=env)
    assert list(ours) == ["PREFECT_SERVER_DATABASE_TIMEOUT"]
    setting = ours["PREFECT_SERVER_DATABASE_TIMEOUT"]
    assert (setting["value"], setting["source"]) == (5.0, "env:PREFECT_SERVER_DATABASE_TIMEOUT")
    assert prefect_config_view(env=env)["PREFECT_SERVER_DATABASE_TIMEOUT"]["value"] == "5"


def test_secrets_are_masked_unless_asked_for(run_rpc):
    env = {"PREFECT_API_KEY": "pnu_top_secret_1"}
    masked = run_rpc(request("setting.get", {"name": ["PREFECT_API_KEY"]}), env=env)
    assert "pnu_top_secret_1" not in masked.stdout_text + masked.stderr_text
    assert masked.response["result"][0]["value"] == "********" and masked.response["result"][0]["isSecret"] is True
    shown = get(run_rpc, ["PREFECT_API_KEY"], env=env, showSecret=True)
    assert shown["PREFECT_API_KEY"]["value"] == "pnu_top_secret_1"


def test_profile_parameter_resolves_as_that_profile_and_unknown_profiles_are_not_found(run_rpc):
    ours = get(run_rpc, ["PREFECT_API_URL"], profile="local")
    assert ours["PREFECT_API_URL"]["source"] == "profile:local" and ours["PREFECT_API_URL"]["profile"] == "local"
    missing = run_rpc(request("setting.get", {"profile": "nope"}))
    assert missing.code == 1 and missing.error["code"] == "NotFound" and "ephemeral" in missing.error["remediation"]


def test_unknown_names_name_the_closest_setting(run_rpc):
    result = run_rpc(request("setting.get", {"name": ["PREFECT_SERVER_API_PROT"]}))
    assert result.code == 1 and result.error["code"] == "InvalidArgument"
    assert "PREFECT_SERVER_API_PORT" in result.error["message"]


# -- Set/Remove: Prefect reads what we wrote ------------------------------------------------------
def test_a_profile_value_set_here_is_what_prefect_reports(run_rpc):
    result = set_(run_rpc, "PREFECT_API_DATABASE_TIMEOUT", "12.5")
    assert result.code == 0, result.response
    change = result.response["result"]
    assert change["changed"] is True and change["name"] == "PREFECT_SERVER_DATABASE_TIMEOUT"
    assert [a["kind"] for a in change["actions"]] == ["profile.set"]
    view = prefect_config_view()
    assert view["PREFECT_SERVER_DATABASE_TIMEOUT"] == {"name": "PREFECT_SERVER_DATABASE_TIMEOUT", "value": "12.5", "source": "profile"}
    # idempotent: the same value again changes nothing and writes nothing
    before = profiles_path().read_bytes()
    again = set_(run_rpc, "PREFECT_SERVER_DATABASE_TIMEOUT", "12.5").response["result"]
    assert (again["changed"], again["actions"]) == (False, [])
    assert profiles_path().read_bytes() == before


def test_what_if_plans_without_writing(run_rpc):
    result = set_(run_rpc, "PREFECT_SERVER_API_PORT", "4300", what_if=True)
    assert result.code == 0 and result.response["result"]["changed"] is False
    assert "Set PREFECT_SERVER_API_PORT to '4300' in profile 'ephemeral'" in result.response["result"]["actions"][0]["description"]
    assert not profiles_path().exists()


def test_setting_a_non_active_profile(run_rpc):
    assert set_(run_rpc, "PREFECT_SERVER_API_PORT", "4555", profile="local").code == 0
    assert prefect_config_view(env={"PREFECT_PROFILE": "local"})["PREFECT_SERVER_API_PORT"] == {"name": "PREFECT_SERVER_API_PORT", "value": "4555", "source": "profile"}
    assert prefect_config_view()["PREFECT_SERVER_API_PORT"]["source"] == "defaults"


PROFILES_WITH_COMMENTS = b"""# hand-written, with a comment Prefect would drop
active = "ephemeral"

[profiles.ephemeral]
PREFECT_SERVER_EPHEMERAL_ENABLED = "true"   # trailing comment
"""


@pytest.mark.parametrize(
    "name, value, code",
    [("PREFECT_SERVER_API_PORT", "abc", "InvalidArgument"), ("PREFECT_SERVER_API_PROT", "4300", "InvalidArgument"), ("PREFECT_LOGGING_LEVEL", "LOUD", "InvalidArgument")],
)
def test_a_refused_value_leaves_profiles_toml_byte_for_byte_unchanged(run_rpc, name, value, code):
    path = profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PROFILES_WITH_COMMENTS)
    stamp = path.stat().st_mtime_ns
    result = set_(run_rpc, name, value)
    assert result.code == 1 and result.error["code"] == code
    assert path.read_bytes() == PROFILES_WITH_COMMENTS and path.stat().st_mtime_ns == stamp
    if name == "PREFECT_SERVER_API_PORT":
        assert result.error["message"].startswith("Prefect refuses PREFECT_SERVER_API_PORT='abc'") and "valid integer" in result.error["message"]
    elif name == "PREFECT_SERVER_API_PROT":
        assert "PREFECT_SERVER_API_PORT" in result.error["message"]


def test_remove_takes_the_value_out_of_the_profile(run_rpc):
    assert set_(run_rpc, "PREFECT_SERVER_API_PORT", "4301").code == 0
    removed = run_rpc(request("setting.remove", {"name": "PREFECT_SERVER_API_PORT"}))
    assert removed.code == 0 and [a["kind"] for a in removed.response["result"]["actions"]] == ["profile.unset"]
    assert prefect_config_view()["PREFECT_SERVER_API_PORT"] == {"name": "PREFECT_SERVER_API_PORT", "value": "4200", "source": "defaults"}
    again = run_rpc(request("setting.remove", {"name": "PREFECT_SERVER_API_PORT"})).response["result"]
    assert (again["changed"], again["actions"]) == (False, [])


def test_a_secret_written_to_a_profile_never_shows_in_plans_events_or_errors(run_rpc):
    secret = "pnu_Very-Secret-Key-42"
    planned = set_(run_rpc, "PREFECT_API_KEY", secret, what_if=True)
    applied = set_(run_rpc, "PREFECT_API_KEY", secret)
    for result in (planned, applied):
        assert result.code == 0 and secret not in result.stdout_text + result.stderr_text
    assert applied.response["result"]["value"] == "********"
    assert secret in profiles_path().read_text(encoding="utf-8")  # it is stored, through Prefect's API


def test_changing_the_port_warns_about_the_api_url_and_sync_fixes_it(run_rpc):
    assert set_(run_rpc, "PREFECT_API_URL", "http://127.0.0.1:4200/api").code == 0
    warned = set_(run_rpc, "PREFECT_SERVER_API_PORT", "4302", what_if=True)
    warnings = [e["message"] for e in warned.stderr_lines if e.get("level") == "warning"]
    assert any("no longer matches server port 4302" in w for w in warnings)
    synced = set_(run_rpc, "PREFECT_SERVER_API_PORT", "4302", syncApiUrl=True)
    assert [a["target"] for a in synced.response["result"]["actions"]] == ["PREFECT_SERVER_API_PORT", "PREFECT_API_URL"]
    view = prefect_config_view()
    assert view["PREFECT_API_URL"]["value"] == "http://127.0.0.1:4302/api" and view["PREFECT_SERVER_API_PORT"]["value"] == "4302"


def test_process_scope_returns_the_assignments_for_the_caller_s_session(run_rpc):
    result = set_(run_rpc, "PREFECT_API_DATABASE_TIMEOUT", "5", scope="Process", env={"PREFECT_API_DATABASE_TIMEOUT": "7"})
    change = result.response["result"]
    assert change["environment"] == [{"name": "PREFECT_SERVER_DATABASE_TIMEOUT", "value": "5"}, {"name": "PREFECT_API_DATABASE_TIMEOUT", "value": None}]
    assert not profiles_path().exists()


def test_user_and_machine_scopes_are_windows_only(run_rpc):
    result = set_(run_rpc, "PREFECT_SERVER_API_PORT", "4300", scope="User")
    assert result.code == 1 and result.error["code"] == "NotSupported"


def test_prefect_home_is_never_written_to_a_profile_and_follows_the_home_rules(run_rpc, tmp_path):
    in_profile = set_(run_rpc, "PREFECT_HOME", str(tmp_path / "h"))
    assert in_profile.error["code"] == "InvalidArgument" and "Scope User" in in_profile.error["remediation"]
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    refused = set_(run_rpc, "PREFECT_HOME", str(blocker / "home"), scope="Process")
    assert refused.error["code"] == "InvalidArgument" and "cannot be created" in refused.error["message"]
    fine = set_(run_rpc, "PREFECT_HOME", str(tmp_path / "new-home"), scope="Process")
    assert fine.code == 0 and fine.response["result"]["environment"] == [{"name": "PREFECT_HOME", "value": str(tmp_path / "new-home")}]


def test_a_profile_write_blocked_by_a_file_says_so_and_not_reinstall_prefect(run_rpc, tmp_path):
    """PREFECT_PROFILES_PATH under a file: Prefect reads no profiles there, and writing one
    fails with FileExistsError. That is the path's problem, not a broken install."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    target = blocker / "profiles.toml"
    failed = set_(run_rpc, "PREFECT_API_URL", "http://127.0.0.1:4200/api", env={"PREFECT_PROFILES_PATH": str(target)})
    assert failed.code == 1, failed.response
    error = failed.error
    assert "FileExistsError" in error["message"] or "NotADirectoryError" in error["message"], error
    assert "einstall" not in error["remediation"] and "pip" not in error["remediation"], error["remediation"]
    assert str(blocker) in error["remediation"] and "PREFECT_PROFILES_PATH" in error["remediation"]
    assert blocker.read_text() == "x"


def test_a_long_lived_backend_sees_process_scope_changes_it_made(tmp_path):
    """Start-PrefectSession keeps one backend; what Set/Remove-PrefectSetting -Scope Process did
    in the caller's session must be what that backend's next Get-PrefectSetting resolves."""
    import json
    import subprocess
    import sys

    def line(request_id, command, params):
        return json.dumps({"id": request_id, "protocol": 1, "command": command, "params": params}).encode() + b"\n"

    lines = [
        line(1, "setting.set", {"name": "PREFECT_API_DATABASE_TIMEOUT", "value": "5", "scope": "Process"}),
        line(2, "setting.get", {"name": ["PREFECT_SERVER_DATABASE_TIMEOUT"]}),
        line(3, "setting.remove", {"name": "PREFECT_SERVER_DATABASE_TIMEOUT", "scope": "Process"}),
        line(4, "setting.get", {"name": ["PREFECT_SERVER_DATABASE_TIMEOUT"]}),
    ]
    done = subprocess.run([sys.executable, "-X", "utf8", "-m", "prefectwin", "serve"], input=b"".join(lines), capture_output=True, timeout=300, cwd=tmp_path)
    out = {o["id"]: o for o in map(json.loads, done.stdout.splitlines()) if "ok" in o}  # answers, not events
    assert (out[2]["result"][0]["value"], out[2]["result"][0]["source"]) == (5.0, "env:PREFECT_SERVER_DATABASE_TIMEOUT")
    assert (out[4]["result"][0]["value"], out[4]["result"][0]["source"]) == (10.0, "default")
