"""Issue 11's classes of hostile input, each against the real backend.

Unencodable or NUL text, NaN ids and duplicate keys are refused as invalid requests naming
where they were, and the session survives; params are strictly typed; a profile write is
validated before it is made and Prefect still reads the file after it; a malformed API or
database URL is a failed check, never an InternalError; what Prefect cannot write fails.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.test_serve import serve

PYTHON = sys.executable
LONE = "\ud800"


def raw(document: dict) -> bytes:
    # json.dumps writes a lone surrogate as the escape \ud800, exactly what a careless client sends.
    return json.dumps(document).encode("utf-8")


def version(**extra) -> dict:
    return {"protocol": 1, "command": "module.version", **extra}


# -- 1. text no answer can carry ------------------------------------------------------------
@pytest.mark.parametrize(
    "request_, target",
    [
        ({"protocol": 1, "command": "setting.get", "params": {"name": [f"PREFECT_{LONE}"]}}, "params.name[0]"),
        ({"protocol": 1, "command": "setting.set", "params": {"name": "PREFECT_API_URL", "value": f"http://x{LONE}/api"}}, "params.value"),
        ({"protocol": 1, "command": "environment.test", "params": {"pythonPath": f"/usr/bin/{LONE}"}}, "params.pythonPath"),
        ({"protocol": 1, "command": "environment.test", "params": {"prefectHome": f"/tmp/{LONE}"}}, "params.prefectHome"),
        ({"protocol": 1, "command": "setting.get", "params": {"profile": f"p{LONE}"}}, "params.profile"),
        (version(cwd=f"/tmp/{LONE}"), "cwd"),
        (version(cwd="/tmp\x00"), "cwd"),
        ({"protocol": 1, "command": "environment.test", "params": {"pythonPath": "/usr/bin/python3\x00"}}, "params.pythonPath"),
        ({"protocol": 1, "command": "service.install", "params": {"name": "x", "role": "Server", "environment": {f"K{LONE}": "v"}}}, "params.environment.<key>"),
        ({"protocol": 1, "command": f"module.{LONE}"}, "command"),
    ],
)
def test_unencodable_or_nul_text_is_an_invalid_request_naming_where_it_was(run_rpc, request_, target):
    code, response, _ = run_rpc(raw(request_))
    assert code == 2
    assert response["error"]["code"] == "InvalidRequest"
    assert response["error"]["target"] == target


def test_a_change_with_bad_text_is_refused_before_anything_is_written(run_rpc, tmp_path):
    profiles = Path(os.environ["PREFECT_PROFILES_PATH"])
    code, response, _ = run_rpc(raw({"protocol": 1, "command": "setting.set", "params": {"name": "PREFECT_API_URL", "value": f"http://a{LONE}b/api"}}))
    assert code == 2 and response["error"]["target"] == "params.value"
    assert not profiles.exists()


def test_a_session_survives_every_kind_of_bad_text_and_answers_each_line_once():
    lines = [
        raw({"id": 1, **version(params={"x": LONE})}),
        raw({"id": LONE, **version()}),
        b'{"id": NaN, "protocol": 1, "command": "module.version"}',
        b'{"id": Infinity, "protocol": 1, "command": "module.version"}',
        b'{"id": 5, "protocol": 1, "protocol": 1, "command": "module.version"}',
        b'{"id": 6, "protocol": 1, "command": "module.version", "params": {"a": 1, "a": 2}}',
        raw({"id": 7, **version()}),
    ]
    code, out, _ = serve([line + b"\n" for line in lines])
    assert code == 0
    assert [o["id"] for o in out] == [1, None, None, None, None, None, 7]
    assert [o["error"]["code"] for o in out[:6]] == ["InvalidRequest"] * 6
    assert "appears twice" in out[4]["error"]["message"] and "NaN" in out[2]["error"]["message"]
    assert out[6]["ok"]


def test_an_answer_is_one_line_of_strict_json_whatever_its_own_data_holds():
    """The backend's own data can hold what UTF-8 or JSON cannot (a file name with undecodable
    bytes arrives as lone surrogates; a float setting can be NaN): the line is still valid."""
    from prefectwin.wire import dumps_line

    line = dumps_line({"id": 1, "result": {"path": "/tmp/odd-\udcff", "timeout": float("nan"), "list": [float("inf"), "\ud83d\ude00"]}})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    document = json.loads(line.decode("utf-8"), parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert document["result"] == {"path": "/tmp/odd-\ufffd", "timeout": "nan", "list": ["inf", "\U0001f600"]}


# -- 8. strict types ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command, params, target",
    [
        ("environment.test", {"port": True}, "params.port"),
        ("environment.test", {"port": 4200.0}, "params.port"),
        ("environment.test", {"port": "4200"}, "params.port"),
        ("environment.test", {"check": "database"}, "params.check"),
        ("service.uninstall", {"name": "x", "removeDatabase": "yes"}, "params.removeDatabase"),
        ("service.uninstall", {"name": "x", "force": 1}, "params.force"),
        ("setting.get", {"showSecret": "true"}, "params.showSecret"),
        ("service.install", {"name": "x", "role": "Server", "environment": {"A": 1}}, "params.environment.A"),
        ("service.wait", {"name": ["x"], "timeoutSec": "5"}, "params.timeoutSec"),
    ],
)
def test_ill_typed_params_are_invalid_requests_never_coerced(run_rpc, command, params, target):
    code, response, _ = run_rpc({"protocol": 1, "command": command, "params": params})
    assert code == 2 and response["error"]["code"] == "InvalidRequest"
    assert response["error"]["target"] == target


# -- 2. profile writes ----------------------------------------------------------------------
def test_a_profile_write_is_atomic_and_prefect_reads_the_file_afterwards(run_rpc):
    profiles = Path(os.environ["PREFECT_PROFILES_PATH"])
    code, response, _ = run_rpc({"protocol": 1, "command": "setting.set", "params": {"name": "PREFECT_API_URL", "value": 'http://127.0.0.1:4201/api?q="x"\\y'}})
    assert code == 0, response
    assert not [p for p in profiles.parent.iterdir() if p.name.endswith(".tmp")], "a temp file was left behind"
    # Prefect's own CLI is the oracle: it starts, and reads back what was written.
    done = subprocess.run([PYTHON, "-m", "prefect", "config", "view"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'http://127.0.0.1:4201/api?q="x"\\y' in done.stdout


def test_the_target_refuses_a_profile_it_could_not_read_back_and_leaves_the_file(tmp_path):
    """Defence in depth behind the bridge's refusal: asked directly (as the backend asks it),
    the target will not write text that is not UTF-8, and the old file stays as it was."""
    from prefectwin.errors import ProbeFailed
    from prefectwin.settings.target import open_session

    profiles = Path(os.environ["PREFECT_PROFILES_PATH"])
    profiles.parent.mkdir(parents=True, exist_ok=True)
    profiles.write_text('active = "local"\n\n[profiles.local]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n')
    before = profiles.read_bytes()
    with open_session(None) as session:
        with pytest.raises(ProbeFailed) as raised:
            session.ask("profile-update", profile="local", set={"PREFECT_API_URL": f"http://x{LONE}/api"}, unset=[])
    assert "nothing was written" in raised.value.message
    assert profiles.read_bytes() == before
    assert not [p for p in profiles.parent.iterdir() if p.name.endswith(".tmp")]


# -- 3. malformed URLs are diagnoses ----------------------------------------------------------
@pytest.mark.parametrize("url", ["garbage", "http://127.0.0.1:abc/api", "http://127.0.0.1:4200/api\n", "http://127.0.0.1:0/api", "ftp://127.0.0.1/api"])
@pytest.mark.parametrize("command", ["environment.test", "environment.repair"])
def test_a_malformed_api_url_fails_settings_api_url_instead_of_crashing(run_rpc, url, command):
    request = {"protocol": 1, "command": command, "params": {"check": ["settings.api-url", "server.health"]}, "whatIf": True}
    code, response, _ = run_rpc(request, env={"PREFECT_API_URL": url})
    assert response["ok"], response
    results = response["result"] if command == "environment.test" else response["result"]["results"]
    by_check = {r["check"]: r for r in results}
    status = by_check["settings.api-url"]["status" if command == "environment.test" else "checkStatus"]
    assert status == "Fail"
    if command == "environment.test":
        assert "cannot be used" in by_check["settings.api-url"]["message"]
        assert by_check["server.health"]["status"] == "Skipped"


@pytest.mark.parametrize(
    "url, words",
    [
        ("postgresql+asyncpg://prefect@[::1/prefect", "cannot be read"),
        ("postgresql+asyncpg://prefect@db:abc/prefect", "cannot be read"),
        ("sqlite+aiosqlite:////tmp/prefect.db\n", "control character"),
        ("sqlite+aiosqlite:///%00prefect.db", "control character"),
    ],
)
def test_a_malformed_database_url_fails_the_database_check(run_rpc, url, words):
    code, response, _ = run_rpc({"protocol": 1, "command": "environment.test", "params": {"check": ["database"]}}, env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": url})
    assert response["ok"], response
    result = response["result"][0]
    assert result["status"] == "Fail" and words in result["message"]


# -- 7. what will fail does not pass ----------------------------------------------------------
def test_an_api_url_with_user_info_is_masked_and_not_a_dns_error(run_rpc, free_port):
    url = f"http://admin:Pa55-w0rd@127.0.0.1:{free_port()}/api"
    result = run_rpc({"protocol": 1, "command": "environment.test", "params": {"check": ["settings.api-url", "server.health"]}}, env={"PREFECT_API_URL": url})
    assert "Pa55-w0rd" not in result.stdout_text + result.stderr_text
    checks = result.checks
    assert checks["settings.api-url"]["status"] == "Warning" and "PREFECT_API_AUTH_STRING" in checks["settings.api-url"]["remediation"]
    health = checks["server.health"]["message"]
    assert "refused" in health.lower() and "name or service" not in health.lower()


def test_a_directory_where_the_database_should_be_fails(run_rpc, prefect_home):
    (prefect_home / "prefect.db").mkdir()
    result = run_rpc({"protocol": 1, "command": "environment.test", "params": {"check": ["database"], "prefectHome": str(prefect_home)}})
    assert result.checks["database"]["status"] == "Fail"
    assert "is a directory" in result.checks["database"]["message"]


def _readonly_runner(directory: Path):
    """argv prefix that runs a command with `directory` read-only: a chmod for an ordinary user,
    a private read-only bind mount for root (whom file modes do not stop)."""
    if os.geteuid() != 0:
        for path in directory.iterdir():
            path.chmod(0o444)
        directory.chmod(0o555)
        return []
    if not shutil.which("unshare") or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root without mount namespaces: no way to make a file read-only for root")
    return ["unshare", "-m", "sh", "-c", f'mount --bind "{directory}" "{directory}" && mount -o remount,bind,ro "{directory}" && exec "$@"', "sh"]


def test_a_read_only_sqlite_file_fails_although_it_opens(prefect_home, neutral_cwd):
    database = prefect_home / "prefect.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE t (x)")
    prefix = _readonly_runner(prefect_home)
    try:
        done = subprocess.run(
            [*prefix, PYTHON, "-X", "utf8", "-m", "prefectwin", "rpc"],
            input=raw({"protocol": 1, "command": "environment.test", "params": {"check": ["database"], "prefectHome": str(prefect_home)}}),
            capture_output=True, cwd=neutral_cwd, timeout=120,
        )
    finally:
        if os.geteuid() != 0:
            prefect_home.chmod(0o755)
            database.chmod(0o644)
    result = json.loads(done.stdout)["result"][0]
    assert result["status"] == "Fail", result
    assert "cannot write" in result["message"]
