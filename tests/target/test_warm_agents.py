"""A `serve` session keeps one warm target agent per interpreter, and every request still sees
the settings as they are at that moment: an environment variable, profiles.toml, the active
profile, PREFECT_HOME, .env and prefect.toml in the working directory, the working directory
itself. Each step goes through a real `serve` process, asks with setting.get (and
environment.test), checks that the agent's pid has not changed, and compares with Prefect's own
`prefect config view --show-sources` where that is cheap. Then the agent's lifetime: it is
replaced once when it died, replaced when the interpreter's own variables or the installed
packages change, and it never outlives the session.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from target_venvs import NEWEST, OLDEST, target_python
from warm_target_fixtures import ServeSession, base_environment, config_view, fresh_setting, gone

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals; the agent's pid is found through process children")

URL = "PREFECT_API_URL"
PORT = "PREFECT_SERVER_API_PORT"


def _profiles(home: Path, active: str, **profiles: str) -> None:
    """profiles.toml in `home`: each profile sets PREFECT_API_URL to its value."""
    text = f'active = "{active}"\n' + "".join(f'\n[profiles.{name}]\nPREFECT_API_URL = "{url}"\n' for name, url in profiles.items())
    (home / "profiles.toml").write_text(text, encoding="utf-8")


def _same_mtime(path: Path, write) -> None:
    """Rewrite a file and give it back its old mtime, as a quick rewrite within one clock tick,
    a coarse file system or a copy that keeps times (cp -p) would leave it."""
    before = path.stat()
    write()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _wait(condition, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    found = {name: tmp_path / name for name in ("home-a", "home-b", "work-1", "work-2")}
    for folder in found.values():
        folder.mkdir()
    return found


@posix_only
def test_every_change_is_seen_at_once_by_one_warm_agent(places):
    home_a, home_b, work, elsewhere = places["home-a"], places["home-b"], places["work-1"], places["work-2"]
    env = base_environment(home_a)
    with ServeSession(env, work) as session:
        def seen(name=URL, *, environment=None, cwd=work):
            return session.setting(name, environment=environment or env, cwd=cwd)

        assert seen() == (None, "default", "ephemeral")
        (agent,) = session.agent_pids()

        # An environment variable, set and then removed.
        assert seen(environment={**env, URL: "http://10.0.0.1:4200/api"}) == ("http://10.0.0.1:4200/api", "env:PREFECT_API_URL", "ephemeral")
        assert seen() == (None, "default", "ephemeral")

        # A profile value, then the same file rewritten with its mtime kept (Prefect 3.4 on
        # caches toml files by path and mtime).
        _profiles(home_a, "dev", dev="http://10.0.0.2:4200/api")
        assert seen() == ("http://10.0.0.2:4200/api", "profile:dev", "dev")
        _same_mtime(home_a / "profiles.toml", lambda: _profiles(home_a, "dev", dev="http://10.0.0.3:4200/api"))
        assert seen() == ("http://10.0.0.3:4200/api", "profile:dev", "dev")

        # The active profile switched: in the file, then by PREFECT_PROFILE.
        _profiles(home_a, "ops", dev="http://10.0.0.3:4200/api", ops="http://10.0.0.4:4200/api")
        assert seen() == ("http://10.0.0.4:4200/api", "profile:ops", "ops")
        assert seen(environment={**env, "PREFECT_PROFILE": "dev"}) == ("http://10.0.0.3:4200/api", "profile:dev", "dev")
        oracle = config_view(sys.executable, env={**env, "PREFECT_PROFILE": "dev"}, cwd=work)
        assert (oracle["profile"], oracle[URL]["value"], oracle[URL]["source"]) == ("dev", "http://10.0.0.3:4200/api", "profile")

        # environment.test reads the same fresh settings.
        check = session.ask("environment.test", {"check": ["settings.api-url"]}, environment=env, cwd=work)
        (api_url,) = check["result"]
        assert api_url["data"]["apiUrl"] == "http://10.0.0.4:4200/api" and api_url["data"]["source"] == "profile", api_url

        # Another PREFECT_HOME, with profiles of its own.
        _profiles(home_b, "far", far="http://10.0.0.5:4200/api")
        env_b = base_environment(home_b)
        assert seen(environment=env_b) == ("http://10.0.0.5:4200/api", "profile:far", "far")
        assert seen(HOME := "PREFECT_HOME", environment=env_b)[0] == str(home_b)
        assert seen(HOME) == (str(home_a), "env:PREFECT_HOME", "ops")

        # A .env in the working directory, added and then changed; it beats the profile.
        (work / ".env").write_text(f"{URL}=http://10.0.0.6:4200/api\n", encoding="utf-8")
        assert seen() == ("http://10.0.0.6:4200/api", ".env", "ops")
        (work / ".env").write_text(f"{URL}=http://10.0.0.7:4200/api\n", encoding="utf-8")
        assert seen() == ("http://10.0.0.7:4200/api", ".env", "ops")

        # A prefect.toml in the working directory, added and then changed at once.
        assert seen(PORT) == (4200, "default", "ops")
        (work / "prefect.toml").write_text("[server.api]\nport = 4301\n", encoding="utf-8")
        assert seen(PORT) == (4301, "prefect.toml", "ops")
        _same_mtime(work / "prefect.toml", lambda: (work / "prefect.toml").write_text("[server.api]\nport = 4302\n", encoding="utf-8"))
        assert seen(PORT) == (4302, "prefect.toml", "ops")
        oracle = config_view(sys.executable, env=env, cwd=work)
        assert (oracle[PORT]["value"], oracle[PORT]["source"]) == ("4302", "prefect.toml")
        assert (oracle[URL]["value"], oracle[URL]["source"]) == ("http://10.0.0.7:4200/api", ".env file")

        # Another working directory: neither file is there.
        assert seen(cwd=elsewhere) == ("http://10.0.0.4:4200/api", "profile:ops", "ops")
        assert seen(PORT, cwd=elsewhere) == (4200, "default", "ops")

        assert session.agent_pids() == [agent], "one warm agent answered every request"
        assert session.close() == 0
    assert gone(agent), "the agent ends with its session"


@posix_only
@pytest.mark.parametrize("version", [OLDEST, "3.4.25", NEWEST])
def test_a_warm_agent_of_each_release_sees_each_change(places, version):
    python = target_python(version)
    home, work = places["home-a"], places["work-1"]
    # PREFECT_PROFILES_PATH too: 3.1 reads profile values only from there or ~/.prefect, not
    # from a PREFECT_HOME given in the environment (a fresh process of it says the same).
    env = base_environment(home, PREFECT_PROFILES_PATH=str(home / "profiles.toml"))
    with ServeSession(env, work) as session:
        def seen(name=URL, **kw):
            return session.setting(name, environment=kw.get("environment", env), cwd=work, python=python)

        assert seen() == (None, "default", "ephemeral")
        (agent,) = session.agent_pids()
        assert seen(environment={**env, URL: "http://10.0.1.1:4200/api"})[:2] == ("http://10.0.1.1:4200/api", "env:PREFECT_API_URL")
        _profiles(home, "dev", dev="http://10.0.1.2:4200/api")
        assert seen() == ("http://10.0.1.2:4200/api", "profile:dev", "dev")
        _same_mtime(home / "profiles.toml", lambda: _profiles(home, "dev", dev="http://10.0.1.3:4200/api"))
        assert seen() == ("http://10.0.1.3:4200/api", "profile:dev", "dev")
        # A .env: as a fresh process of that release sees it (3.1 and 3.4 list it as the
        # source, but take no nested setting's value from it, as their own Settings() shows).
        (work / ".env").write_text(f"{PORT}=4311\n", encoding="utf-8")
        assert seen(PORT)[1] == ".env"
        (work / ".env").write_text(f"{PORT}=4312\n", encoding="utf-8")
        assert seen(PORT) == fresh_setting(PORT, environment=env, cwd=work, python=python)
        if version == NEWEST:
            assert seen(PORT)[0] == 4312
        (work / ".env").unlink()
        assert seen(PORT) == (4200, "default", "dev")
        # A profile the file does not have: every release falls back to its ephemeral profile.
        assert seen(environment={**env, "PREFECT_PROFILE": "nope"}) == (None, "default", "ephemeral")
        check = session.ask("environment.test", {"pythonPath": python, "check": ["prefect.installed", "settings.api-url"]}, environment=env, cwd=work)
        by_name = {c["check"]: c for c in check["result"]}
        assert by_name["prefect.installed"]["data"]["version"] == version
        assert by_name["settings.api-url"]["data"]["apiUrl"] == "http://10.0.1.3:4200/api"
        assert session.agent_pids() == [agent]


@posix_only
def test_an_agent_that_died_is_replaced_once_and_none_outlives_a_killed_session(places):
    env, work = base_environment(places["home-a"]), places["work-1"]
    session = ServeSession(env, work)
    try:
        assert session.setting(URL, environment=env, cwd=work)[1] == "default"
        (agent,) = session.agent_pids()
        os.kill(agent, signal.SIGKILL)
        _wait(lambda: gone(agent), "the agent to die")
        # The caller does not notice: the request is sent once more, to a new agent.
        assert session.setting(URL, environment={**env, URL: "http://10.0.2.1:4200/api"}, cwd=work)[0] == "http://10.0.2.1:4200/api"
        (replacement,) = session.agent_pids()
        assert replacement != agent
        session.proc.kill()
        session.proc.wait(timeout=30)
        _wait(lambda: gone(replacement), "the agent to notice its session is gone")
    finally:
        session.close()


@posix_only
def test_a_change_to_what_the_interpreter_reads_at_start_gets_a_new_agent(places, tmp_path):
    """PYTHON* variables shape the interpreter itself, and new packages may change the answer
    (the hello's versions, what imports): then the warm agent is no longer a fresh process."""
    extra = tmp_path / "extra"
    extra.mkdir()
    env = base_environment(places["home-a"], PYTHONPATH=str(extra))
    work = places["work-1"]
    with ServeSession(env, work) as session:
        session.setting(URL, environment=env, cwd=work)
        (first,) = session.agent_pids()
        session.setting(URL, environment=env, cwd=work)
        assert session.agent_pids() == [first]

        (extra / "newly_installed.py").write_text("", encoding="utf-8")  # as pip adds a package
        session.setting(URL, environment=env, cwd=work)
        (second,) = session.agent_pids()
        assert second != first and gone(first)

        session.setting(URL, environment={**env, "PYTHONPATH": str(tmp_path)}, cwd=work)
        (third,) = session.agent_pids()
        assert third != second and gone(second), "one agent per interpreter: the old one is ended"


@posix_only
def test_a_warm_agent_that_hangs_is_ended_and_the_request_fails_clearly(monkeypatch, places):
    """The pool, in-process (so the time-out can be short): a stopped agent does not answer,
    the request reports it, the agent's tree is ended, and the next request gets a new one."""
    from prefectwin.diagnosis import probe
    from prefectwin.target import agents

    env, work = base_environment(places["home-a"]), str(places["work-1"])
    agents.keep_warm()
    try:
        assert probe.run_probe(sys.executable, env=env, cwd=work)[1].installed
        (agent,) = agents.warm_pids()
        os.kill(agent, signal.SIGSTOP)
        monkeypatch.setattr(probe, "PROBE_TIMEOUT_SEC", 3)
        python, _ = probe.run_probe(sys.executable, env=env, cwd=work)
        assert python.error == f"{sys.executable} did not answer within 3 s"
        assert gone(agent) and agents.warm_pids() == []
        monkeypatch.setattr(probe, "PROBE_TIMEOUT_SEC", 120)
        assert probe.run_probe(sys.executable, env=env, cwd=work)[1].installed
        assert len(agents.warm_pids()) == 1 and agents.warm_pids() != [agent]
    finally:
        agents.close_all()


def test_an_agent_too_long_for_a_command_line_is_refused(monkeypatch):
    from prefectwin.target import channel

    assert len(channel.agent_source(channel.new_frame())) <= channel.MAX_SOURCE_CHARS
    monkeypatch.setattr(channel, "MAX_SOURCE_CHARS", 1000)
    with pytest.raises(RuntimeError, match="at most 1000"):
        channel.agent_source(channel.new_frame())


@posix_only
def test_a_profile_write_by_a_warm_agent_goes_to_the_requests_prefect_home(places):
    """Writes find profiles.toml through this request's settings too, not the agent's first
    request's: a Set-PrefectSetting after PREFECT_HOME changed must land in the new home."""
    home_a, home_b, work = places["home-a"], places["home-b"], places["work-1"]
    env_a, env_b = base_environment(home_a), base_environment(home_b)
    with ServeSession(env_a, work) as session:
        assert session.setting(PORT, environment=env_a, cwd=work)[1] == "default"
        (agent,) = session.agent_pids()
        answer = session.ask("setting.set", {"name": PORT, "value": "4317"}, environment=env_b, cwd=work)
        assert answer["ok"], answer
        assert session.agent_pids() == [agent]
    assert not (home_a / "profiles.toml").exists()
    assert config_view(sys.executable, env=env_b, cwd=work)[PORT]["value"] == "4317"


@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_reading_leaves_no_prefect_home_behind_though_prefect_makes_one_at_import(tmp_path, version):
    """Every release makes a missing PREFECT_HOME when it is imported. A setting read, a
    diagnosis and a -WhatIf plan, in a fresh agent and then in the warm one with another home,
    must still leave the machine as it was; a real profile write makes the home it needs."""
    python = target_python(version)
    first, second, work = tmp_path / "first-home", tmp_path / "second-home", tmp_path / "work"
    work.mkdir()
    env_1, env_2 = base_environment(first), base_environment(second)
    with ServeSession(env_1, work) as session:
        assert session.setting(PORT, environment=env_1, cwd=work, python=python)[1] == "default"
        assert not first.exists(), "a setting read left behind the PREFECT_HOME that Prefect's import made"
        (agent,) = session.agent_pids()
        checked = session.ask("environment.test", {"pythonPath": python, "check": ["settings.home"]}, environment=env_2, cwd=work)
        assert checked["ok"], checked
        (home_check,) = checked["result"]
        assert home_check["status"] == "Pass" and "can be created" in home_check["message"], home_check
        planned = session.ask("setting.set", {"name": PORT, "value": "4317", "pythonPath": python}, environment=env_2, cwd=work, what_if=True)
        assert planned["ok"] and planned["result"]["actions"], planned
        assert session.agent_pids() == [agent]
        assert not first.exists() and not second.exists(), "a diagnosis or a -WhatIf left a PREFECT_HOME behind"
        written = session.ask("setting.set", {"name": PORT, "value": "4317", "pythonPath": python}, environment=env_2, cwd=work)
        assert written["ok"], written
    assert (second / "profiles.toml").is_file() and not first.exists()
    assert config_view(sys.executable, env=env_2, cwd=work)[PORT]["value"] == "4317"  # Prefect's own CLI reads it back
