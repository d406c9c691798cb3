"""environment.test end to end: the real rpc subprocess against real facts on this machine
(real listening processes, real interpreters, real SQLite files, real PostgreSQL, a real
`prefect server start`). Only the Windows checks are out of reach here (see
tests/system/test_windows_facts.py)."""
from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from prefectwin.diagnosis.checks import CHECK_NAMES

PREFECT_VERSION = metadata.version("prefect")
VENV_BIN = os.path.dirname(sys.executable)


def environment_test(run_rpc, *checks: str, role: str = "Server", env=None, **params):
    """Run environment.test through the real bridge; returns {check name: result}."""
    body = {"protocol": 1, "command": "environment.test", "params": {"role": role, **params}}
    if checks:
        body["params"]["check"] = list(checks)
    result = run_rpc(body, env=env)
    assert result.code == 0, result.response
    got = result.checks
    assert list(got) == [n for n in CHECK_NAMES if not checks or n in checks]
    return got


def server_version(url: str) -> str:
    """Ask PostgreSQL itself, with asyncpg (the driver Prefect uses)."""
    import asyncio
    import urllib.parse

    import asyncpg

    async def ask() -> str:
        parts = urllib.parse.urlsplit(url)
        conn = await asyncpg.connect(urllib.parse.urlunsplit(parts._replace(scheme="postgresql", query="")), timeout=10)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    return asyncio.run(ask())


def can_bind(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


# ------------------------------------------------------------------------------------------
# the whole report
# ------------------------------------------------------------------------------------------
def test_full_report_on_this_machine(run_rpc, prefect_home, free_port):
    port = free_port()
    result = run_rpc(
        {"protocol": 1, "command": "environment.test", "params": {"port": port, "prefectHome": str(prefect_home)}},
        env={"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONIOENCODING": "utf-8"},
    )
    assert result.code == 0
    checks = result.checks
    # A diagnosis of the shell: the service.* checks run only for -ServiceName.
    assert list(checks) == [name for name in CHECK_NAMES if not name.startswith("service.")]
    for r in checks.values():
        assert set(r) == {"check", "status", "message", "remediation", "data", "service"}
        assert r["service"] is None  # a diagnosis of the shell, not of a service
        assert r["status"] in ("Pass", "Warning", "Fail", "Skipped") and r["message"]
    statuses = {name: r["status"] for name, r in checks.items() if not name.startswith("windows.")}
    assert statuses == {
        "python.found": "Pass", "python.version": "Pass", "python.path-spaces": "Pass" if " " not in sys.executable else "Warning",
        "prefect.installed": "Pass", "prefect.cli-on-path": "Pass", "settings.home": "Pass", "settings.profile": "Pass",
        "settings.api-url": "Warning",  # no PREFECT_API_URL in the isolated environment
        "port.available": "Pass", "database": "Pass", "encoding": "Pass", "server.health": "Skipped", "server.auth": "Pass", "server.version": "Skipped",
    }
    windows = {r["status"] for name, r in checks.items() if name.startswith("windows.")}
    if sys.platform == "win32":
        assert "Skipped" not in windows
    else:
        assert windows == {"Skipped"}
    # Progress and verbose lines on stderr, as the protocol promises.
    assert any("progress" in line for line in result.stderr_lines)
    assert any(line.get("level") == "verbose" and sys.executable in line["message"] for line in result.stderr_lines)


# ------------------------------------------------------------------------------------------
# (a) port.available: a real listener
# ------------------------------------------------------------------------------------------
LISTEN = textwrap.dedent(
    """
    import socket, sys
    sock = socket.socket()
    sock.bind((sys.argv[1], 0))
    sock.listen()
    print(sock.getsockname()[1], flush=True)
    sys.stdin.read()
    """
)


@pytest.fixture
def listener(request):
    """A separate Python process listening on a free port (on 127.0.0.1, or the address given
    by indirect parametrisation); yields (process, port, address)."""
    address = getattr(request, "param", "127.0.0.1")
    proc = subprocess.Popen([sys.executable, "-c", LISTEN, address], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield proc, port, address
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("listener", ["127.0.0.1", "0.0.0.0"], indirect=True, ids=["loopback-listener", "wildcard-listener"])
def test_port_held_by_another_process_names_its_pid(run_rpc, listener):
    proc, port, address = listener
    r = environment_test(run_rpc, "port.available", port=port)["port.available"]
    assert r["status"] == "Fail"
    assert f"PID {proc.pid}" in r["message"]
    assert f"Stop PID {proc.pid}" in r["remediation"]
    owners = r["data"]["owners"]
    assert [o["pid"] for o in owners] == [proc.pid]
    assert owners[0]["isPrefectServer"] is False
    assert owners[0]["address"] == address
    assert owners[0]["processName"] and owners[0]["processName"] in r["message"]
    next_free = r["data"]["nextFreePort"]
    assert next_free > port and can_bind(next_free)
    assert f"-Port {next_free}" in r["remediation"]


def test_free_port_passes(run_rpc, free_port):
    port = free_port()
    r = environment_test(run_rpc, "port.available", port=port)["port.available"]
    assert r["status"] == "Pass" and r["data"] == {"host": "127.0.0.1", "port": port}


def test_port_comes_from_prefect_settings_when_not_given(run_rpc, listener):
    proc, port, _ = listener
    r = environment_test(run_rpc, "port.available", env={"PREFECT_SERVER_API_PORT": str(port)})["port.available"]
    assert r["status"] == "Fail" and r["data"]["port"] == port and f"PID {proc.pid}" in r["message"]


def test_port_check_is_skipped_for_workers(run_rpc, listener):
    _, port, _ = listener
    assert environment_test(run_rpc, "port.available", role="Worker", port=port)["port.available"]["status"] == "Skipped"


# ------------------------------------------------------------------------------------------
# (b) the target interpreter
# ------------------------------------------------------------------------------------------
def test_real_interpreter_with_prefect(run_rpc):
    got = environment_test(run_rpc, "python.found", "python.version", "prefect.installed", pythonPath=sys.executable)
    found, version, installed = got["python.found"], got["python.version"], got["prefect.installed"]
    assert found["status"] == "Pass" and found["data"]["executable"] == sys.executable
    assert found["data"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert found["data"]["venv"] is (sys.prefix != sys.base_prefix)
    assert version["status"] == "Pass" and version["data"]["requiresPython"] == metadata.metadata("prefect")["Requires-Python"]
    assert installed["status"] == "Pass" and installed["data"]["version"] == PREFECT_VERSION


def test_nonexistent_interpreter(run_rpc, tmp_path):
    missing = tmp_path / "no" / "python"
    got = environment_test(run_rpc, "python.found", "python.version", "prefect.installed", "settings.home", pythonPath=str(missing))
    assert got["python.found"]["status"] == "Fail"
    assert str(missing) in got["python.found"]["message"] and "-PythonPath" in got["python.found"]["remediation"]
    assert got["python.version"]["status"] == "Skipped"
    assert got["prefect.installed"]["status"] == "Skipped"


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need a privilege on Windows")
def test_relative_python_path_is_resolved_against_the_caller(run_rpc, tmp_path):
    # The backend makes it absolute before probing; a relative path names the caller's file.
    link = tmp_path / "py"
    link.symlink_to(sys.executable)
    result = run_rpc(
        {"protocol": 1, "command": "environment.test", "params": {"pythonPath": "py", "check": ["python.found"]}}, cwd=tmp_path
    )
    assert result.checks["python.found"]["status"] == "Pass"
    # The same, with the process started elsewhere and the caller's folder in the envelope.
    result = run_rpc({"protocol": 1, "command": "environment.test", "cwd": str(tmp_path), "params": {"pythonPath": "py", "check": ["python.found"]}})
    assert result.checks["python.found"]["status"] == "Pass"
    missing = run_rpc({"protocol": 1, "command": "environment.test", "params": {"pythonPath": "py", "check": ["python.found"]}})
    assert missing.checks["python.found"]["status"] == "Fail"


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for a broken interpreter")
def test_something_that_is_not_python(run_rpc, tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'this is not python' >&2\nexit 3\n")
    fake.chmod(0o755)
    r = environment_test(run_rpc, "python.found", pythonPath=str(fake))["python.found"]
    assert r["status"] == "Fail" and "not a working Python interpreter" in r["message"] and "this is not python" in r["message"]


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory) -> Path:
    """A real virtual environment without Prefect, in a folder whose path has a space."""
    root = tmp_path_factory.mktemp("venvs") / "my venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    exe = root / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    assert exe.exists()
    return exe


def test_interpreter_without_prefect(run_rpc, bare_venv):
    got = environment_test(run_rpc, "python.found", "python.version", "prefect.installed", "prefect.cli-on-path", "settings.profile", pythonPath=str(bare_venv))
    assert got["python.found"]["status"] == "Pass" and got["python.found"]["data"]["venv"] is True
    installed = got["prefect.installed"]
    assert installed["status"] == "Fail" and "not installed" in installed["message"]
    assert f'"{bare_venv}" -m pip install' in installed["remediation"]
    assert got["python.version"]["status"] == "Skipped"
    assert got["prefect.cli-on-path"]["status"] == "Skipped"
    assert got["settings.profile"]["status"] == "Skipped"


def test_spaces_in_the_environment_path_warn(run_rpc, bare_venv):
    r = environment_test(run_rpc, "python.path-spaces", pythonPath=str(bare_venv))["python.path-spaces"]
    assert r["status"] == "Warning" and "my venv" in r["message"]


def test_prefect_cli_on_path(run_rpc):
    on_path = environment_test(run_rpc, "prefect.cli-on-path", env={"PATH": f"{VENV_BIN}{os.pathsep}/usr/bin{os.pathsep}/bin"})
    assert on_path["prefect.cli-on-path"]["status"] == "Pass"
    resolved = on_path["prefect.cli-on-path"]["data"]["resolved"]
    assert os.path.dirname(resolved) == VENV_BIN and os.path.basename(resolved).lower().startswith("prefect")
    off_path = environment_test(run_rpc, "prefect.cli-on-path", env={"PATH": f"/usr/bin{os.pathsep}/bin"})["prefect.cli-on-path"]
    if off_path["data"]["resolved"] is None:
        assert off_path["status"] == "Warning" and f"Add {VENV_BIN} to PATH" in off_path["remediation"]
    else:  # this machine has another prefect in /usr/bin: that is the other warning
        assert off_path["status"] == "Warning" and "another Python" in off_path["message"]


# ------------------------------------------------------------------------------------------
# (c) SQLite
# ------------------------------------------------------------------------------------------
def test_real_sqlite_database_opens(run_rpc, prefect_home):
    db = prefect_home / "prefect.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE flow (id TEXT PRIMARY KEY)")
    r = environment_test(run_rpc, "database", env={"PREFECT_HOME": str(prefect_home)})["database"]
    assert r["status"] == "Pass" and "opens" in r["message"]
    assert r["data"]["path"] == str(db) and r["data"]["exists"] is True and r["data"]["kind"] == "sqlite"


def test_corrupt_sqlite_database_fails(run_rpc, prefect_home):
    (prefect_home / "prefect.db").write_bytes(b"this is not a SQLite database\n" * 200)
    r = environment_test(run_rpc, "database", prefectHome=str(prefect_home))["database"]
    assert r["status"] == "Fail" and "cannot be opened" in r["message"] and "not a database" in r["message"]


def test_missing_sqlite_database_is_not_created_by_the_diagnosis(run_rpc, prefect_home):
    r = environment_test(run_rpc, "database", "settings.home", prefectHome=str(prefect_home))
    assert r["database"]["status"] == "Pass" and "will be created" in r["database"]["message"]
    assert r["settings.home"]["status"] == "Pass"
    assert sorted(p.name for p in prefect_home.iterdir()) == [], "a diagnosis must not create files in PREFECT_HOME"


def test_explicit_sqlite_url(run_rpc, tmp_path):
    db = tmp_path / "elsewhere.db"
    sqlite3.connect(db).close()
    r = environment_test(run_rpc, "database", env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{db}"})["database"]
    assert r["status"] == "Pass" and r["data"]["path"] == str(db)


def test_database_is_skipped_for_workers(run_rpc, prefect_home):
    (prefect_home / "prefect.db").write_bytes(b"garbage" * 100)
    assert environment_test(run_rpc, "database", role="Worker", prefectHome=str(prefect_home))["database"]["status"] == "Skipped"


# ------------------------------------------------------------------------------------------
# (d) PostgreSQL
# ------------------------------------------------------------------------------------------
def test_postgres_connects_and_reports_its_version(run_rpc, postgres_url):
    version = server_version(postgres_url)
    result = run_rpc(
        {"protocol": 1, "command": "environment.test", "params": {"check": ["database"]}},
        env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres_url},
    )
    r = result.checks["database"]
    assert r["status"] == "Pass", r
    assert f"PostgreSQL {version}" in r["message"]
    assert r["data"]["serverVersion"] == version and r["data"]["outcome"] == "connected"
    assert "********" in r["data"]["url"] or ":" not in r["data"]["url"].split("@")[0].split("//")[1]


def test_throwaway_postgres_connects(run_rpc, throwaway_postgres):
    r = environment_test(run_rpc, "database", env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": throwaway_postgres.url()})["database"]
    assert r["status"] == "Pass" and r["data"]["serverVersion"] == throwaway_postgres.version
    assert r["data"]["host"] == "127.0.0.1" and r["data"]["port"] == throwaway_postgres.port and r["data"]["database"] == "prefect"


def test_postgres_wrong_password_is_auth_failed_and_never_shown(run_rpc, throwaway_postgres):
    wrong = "Wr0ng-Pa55word-4f9c"
    result = run_rpc(
        {"protocol": 1, "command": "environment.test", "params": {"check": ["database"]}},
        env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": throwaway_postgres.url(password=wrong)},
    )
    r = result.checks["database"]
    assert r["status"] == "Fail" and r["data"]["outcome"] == "auth-failed"
    assert "refused the credentials" in r["message"]
    for text in (result.stdout_text, result.stderr_text):
        assert wrong not in text
        assert throwaway_postgres.password not in text


def test_postgres_unreachable(run_rpc, throwaway_postgres, free_port):
    closed = free_port()
    r = environment_test(
        run_rpc, "database", env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": throwaway_postgres.url(port=closed)}
    )["database"]
    assert r["status"] == "Fail" and r["data"]["outcome"] == "unreachable" and f"127.0.0.1:{closed}" in r["message"]


def test_postgres_missing_database(run_rpc, throwaway_postgres):
    r = environment_test(
        run_rpc, "database", env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": throwaway_postgres.url(database="nosuchdb")}
    )["database"]
    assert r["status"] == "Fail" and r["data"]["outcome"] == "no-database" and "CREATE DATABASE nosuchdb" in r["remediation"]


def test_server_database_setting_beats_the_legacy_alias(run_rpc, throwaway_postgres, free_port):
    env = {
        "PREFECT_API_DATABASE_CONNECTION_URL": throwaway_postgres.url(port=free_port()),  # legacy name, unreachable
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": throwaway_postgres.url(),
    }
    assert environment_test(run_rpc, "database", env=env)["database"]["data"]["outcome"] == "connected"
    legacy_only = {"PREFECT_API_DATABASE_CONNECTION_URL": throwaway_postgres.url()}
    assert environment_test(run_rpc, "database", env=legacy_only)["database"]["data"]["outcome"] == "connected"


# ------------------------------------------------------------------------------------------
# (e) server.health against a real `prefect server start`
# ------------------------------------------------------------------------------------------
def test_server_health_pass(run_rpc, prefect_server):
    r = environment_test(run_rpc, "server.health", env={"PREFECT_API_URL": prefect_server.api_url})["server.health"]
    assert r["status"] == "Pass", f"{r}\n--- server log ---\n{prefect_server.log_tail()}"
    assert r["data"]["health"] == 200 and r["data"]["ready"] == 200 and r["data"]["apiUrl"] == prefect_server.api_url


@pytest.mark.parametrize("role, status", [("Server", "Warning"), ("Worker", "Fail")])
def test_server_health_closed_port(run_rpc, free_port, role, status):
    url = f"http://127.0.0.1:{free_port()}/api"
    r = environment_test(run_rpc, "server.health", role=role, env={"PREFECT_API_URL": url})["server.health"]
    assert r["status"] == status and "does not answer" in r["message"] and r["data"]["health"] is None


def test_running_prefect_server_on_the_port_is_recognised(run_rpc, prefect_server):
    r = environment_test(run_rpc, "port.available", port=prefect_server.port)["port.available"]
    assert r["status"] == "Warning", r
    assert [o["pid"] for o in r["data"]["owners"]] == [prefect_server.process.pid]
    assert r["data"]["owners"][0]["isPrefectServer"] is True
    assert "a Prefect server is already running" in r["message"]


def test_api_url_agrees_with_the_real_server(run_rpc, prefect_server):
    env = {"PREFECT_API_URL": prefect_server.api_url}
    agree = environment_test(run_rpc, "settings.api-url", port=prefect_server.port, env=env)["settings.api-url"]
    assert agree["status"] == "Pass" and agree["data"]["source"] == "env"
    other = environment_test(run_rpc, "settings.api-url", port=prefect_server.port + 1, env=env)["settings.api-url"]
    assert other["status"] == "Warning" and f"server port is {prefect_server.port + 1}" in other["message"]


# ------------------------------------------------------------------------------------------
# (f) settings.profile  (g) settings.home
# ------------------------------------------------------------------------------------------
def test_worker_without_api_url_falls_back_to_ephemeral(run_rpc, prefect_home):
    r = environment_test(run_rpc, "settings.profile", role="Worker", env={"PREFECT_HOME": str(prefect_home)})["settings.profile"]
    assert r["status"] == "Warning" and r["data"]["profile"] == "ephemeral" and r["data"]["ephemeral"] is True
    assert "invisible" in r["message"]


def test_worker_with_api_url_in_its_profile(run_rpc, prefect_home):
    (prefect_home / "profiles.toml").write_text(
        'active = "prod"\n\n[profiles.prod]\nPREFECT_API_URL = "http://prefect01:4200/api"\n', encoding="utf-8"
    )
    env = {"PREFECT_HOME": str(prefect_home), "PREFECT_PROFILES_PATH": str(prefect_home / "profiles.toml")}
    got = environment_test(run_rpc, "settings.profile", "settings.api-url", role="Worker", env=env)
    assert got["settings.profile"]["status"] == "Pass" and got["settings.profile"]["data"]["profile"] == "prod"
    api = got["settings.api-url"]
    assert api["status"] == "Pass" and api["data"]["apiUrl"] == "http://prefect01:4200/api"
    assert api["data"]["source"] and api["data"]["source"] != "env"


def test_working_directory_prefect_toml_is_read_from_prefect_home(run_rpc, prefect_home):
    # A service runs in PREFECT_HOME, so Prefect reads prefect.toml from there: so must the probe.
    (prefect_home / "prefect.toml").write_text('[api]\nurl = "http://127.0.0.1:4999/api"\n', encoding="utf-8")
    api = environment_test(run_rpc, "settings.api-url", prefectHome=str(prefect_home))["settings.api-url"]
    assert api["data"]["apiUrl"] == "http://127.0.0.1:4999/api"


@pytest.mark.parametrize("how", ["param", "env"])
def test_prefect_home_that_is_a_file(run_rpc, tmp_path, how):
    home = tmp_path / "home-file"
    home.write_text("not a directory")
    kwargs = {"prefectHome": str(home)} if how == "param" else {"env": {"PREFECT_HOME": str(home)}}
    r = environment_test(run_rpc, "settings.home", **kwargs)["settings.home"]
    assert r["status"] == "Fail" and "is a file" in r["message"] and r["data"]["path"] == str(home)


def test_prefect_home_that_can_be_created(run_rpc, tmp_path):
    home = tmp_path / "new" / "home"
    r = environment_test(run_rpc, "settings.home", prefectHome=str(home))["settings.home"]
    assert r["status"] == "Pass" and "can be created" in r["message"]
    assert not home.exists(), "a diagnosis must not create PREFECT_HOME"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root (and Windows ACLs) ignore POSIX modes")
def test_prefect_home_not_writable(run_rpc, tmp_path):
    home = tmp_path / "locked"
    home.mkdir()
    home.chmod(0o500)
    try:
        r = environment_test(run_rpc, "settings.home", prefectHome=str(home))["settings.home"]
    finally:
        home.chmod(0o700)
    assert r["status"] == "Fail" and "not writable" in r["message"]


# ------------------------------------------------------------------------------------------
# encoding, from the real environment
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "env, status, decided_by",
    [
        ({"PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "1"}, "Warning", "PYTHONIOENCODING"),
        ({"PYTHONIOENCODING": "utf-8"}, "Pass", "PYTHONIOENCODING"),
        ({"PYTHONUTF8": "1", "LC_ALL": "C", "LANG": "C"}, "Pass", "PYTHONUTF8"),
    ],
)
def test_encoding_from_the_environment(run_rpc, env, status, decided_by):
    r = environment_test(run_rpc, "encoding", env=env)["encoding"]
    assert (r["status"], r["data"]["decidedBy"]) == (status, decided_by), r


def test_server_version_of_the_same_release_passes(run_rpc, prefect_server):
    """GET /api/admin/version of a real server: its Prefect version, here the same as ours."""
    r = environment_test(run_rpc, "server.version", role="Worker", env={"PREFECT_API_URL": prefect_server.api_url})["server.version"]
    assert r["status"] == "Pass", r
    assert (r["data"]["clientVersion"], r["data"]["serverVersion"]) == (PREFECT_VERSION, PREFECT_VERSION)
