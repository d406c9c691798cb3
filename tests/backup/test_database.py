"""database.backup and database.restore against a real Prefect server on SQLite.

The server of this module holds a real flow run. A backup taken while it runs must hold that
run; a restore is refused while the server has the database open, and once it is stopped the
restore makes the database the backup byte for byte, and a server started on it again sees
the flow run as it was."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from fixtures.prefect_server import start_prefect_server, stop_prefect_server


def _post(api_url: str, path: str, body: dict[str, Any], attempts: int = 10) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{api_url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for attempt in range(attempts):
        try:
            with opener.open(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            # Prefect answers 503 while SQLite is locked by its own services (busy right after
            # start); its client retries, and so does this one, a bounded number of times.
            if exc.code != 503 or attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _wait_until_ready(api_url: str, timeout: float = 120) -> None:
    # /health answers before the first request has finished setting the database up; writes
    # get 503 until /ready does.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with opener.open(f"{api_url}/ready", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{api_url} was not ready within {timeout} s", pytrace=False)
        time.sleep(0.3)


def _create_flow_run(api_url: str, name: str) -> str:
    _wait_until_ready(api_url)
    flow = _post(api_url, "/flows/", {"name": f"backup-test-{uuid.uuid4().hex[:8]}"})
    return _post(api_url, "/flow_runs/", {"flow_id": flow["id"], "name": name})["id"]


def _flow_run_names(database: Path) -> set[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return {row[0] for row in connection.execute("SELECT name FROM flow_run")}
    finally:
        connection.close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _request(command: str, params: dict[str, Any], *, what_if: bool = False) -> dict[str, Any]:
    return {"protocol": 1, "command": command, "params": params, "whatIf": what_if}


@pytest.fixture(scope="module")
def server_with_a_run(prefect_server_factory):
    server = prefect_server_factory()
    return server, _create_flow_run(server.api_url, "before-the-backup")


def test_an_online_backup_of_a_running_server_holds_its_flow_run(run_rpc, server_with_a_run, tmp_path: Path) -> None:
    server, _ = server_with_a_run
    database = server.home / "prefect.db"
    destination = tmp_path / "nightly.db"
    code, response, events = run_rpc(_request("database.backup", {"path": str(database), "destination": str(destination)}))
    assert code == 0 and response["ok"], response
    result = response["result"]
    assert result["changed"] is True
    assert result["database"] == str(database) and result["backup"] == str(destination)
    assert "before-the-backup" in _flow_run_names(destination)
    assert result["flowRuns"] == len(_flow_run_names(destination)) >= 1
    assert result["revision"], "a Prefect database records its migration revision"
    assert result["sha256"] == _sha256(destination) and result["sizeBytes"] == destination.stat().st_size
    # One self-contained file: no -wal sidecar is needed to read the backup.
    assert not Path(str(destination) + "-wal").exists()
    assert [e for e in events if "progress" in e], "a backup reports progress"
    # The server is still healthy and writing after the backup.
    _create_flow_run(server.api_url, "after-the-backup")
    assert "after-the-backup" not in _flow_run_names(destination)


def test_the_default_database_is_the_one_prefect_settings_name(run_rpc, server_with_a_run, tmp_path: Path) -> None:
    server, _ = server_with_a_run
    code, response, _ = run_rpc(
        _request("database.backup", {"prefectHome": str(server.home), "destination": str(tmp_path)}, what_if=True),
        env={"PREFECT_HOME": str(server.home)},
    )
    assert code == 0 and response["ok"], response
    plan = response["result"]
    assert plan["database"] == str(server.home / "prefect.db")
    assert plan["changed"] is False and len(plan["actions"]) == 1
    assert Path(plan["backup"]).parent == tmp_path and plan["backup"].endswith(".db")
    assert list(tmp_path.iterdir()) == [], "whatIf writes nothing"


@pytest.mark.parametrize("what_if", [True, False], ids=["whatIf", "apply"])
def test_a_backup_never_overwrites_a_file_and_the_plan_already_says_so(run_rpc, server_with_a_run, tmp_path: Path, what_if: bool) -> None:
    server, _ = server_with_a_run
    existing = tmp_path / "taken.db"
    existing.write_bytes(b"an older backup")
    code, response, _ = run_rpc(_request("database.backup", {"path": str(server.home / "prefect.db"), "destination": str(existing)}, what_if=what_if))
    assert code == 1, response
    error = response["error"]
    assert error["code"] == "InvalidArgument" and error["target"] == "destination", error
    assert str(existing) in error["message"] and "-Destination" in error["remediation"], error
    assert existing.read_bytes() == b"an older backup"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.db"], "no partial file beside it either"


def _missing(folder: Path) -> Path:
    return folder / "missing.db"


def _not_sqlite(folder: Path) -> Path:
    path = folder / "notes.db"
    path.write_text("not a database")
    return path


def _not_prefect(folder: Path) -> Path:
    path = folder / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)")
    return path


@pytest.mark.parametrize(
    "make, code, target",
    [(_missing, "NotFound", "path"), (_not_sqlite, "InvalidArgument", "path"), (_not_prefect, "InvalidArgument", "path")],
    ids=["missing", "not-sqlite", "not-prefect"],
)
def test_what_is_not_a_prefect_database_is_refused(run_rpc, tmp_path: Path, make, code: str, target: str) -> None:
    path = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_rpc(_request("database.backup", {"path": str(path)}))
    assert result.code == 1
    assert (result.error["code"], result.error["target"]) == (code, target), result.error
    assert result.error["remediation"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "a refusal writes nothing"


def test_postgresql_is_not_backed_up_and_its_password_never_shows(run_rpc, tmp_path: Path) -> None:
    secret = "s3cr3t-Pa55"
    result = run_rpc(
        _request("database.backup", {"prefectHome": str(tmp_path)}),
        env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://prefect:{secret}@127.0.0.1:5432/prefect"},
    )
    assert result.code == 1 and result.error["code"] == "NotSupported", result.response
    assert "pg_dump" in result.error["remediation"]
    assert secret not in result.stdout_text + result.stderr_text


def test_restore_is_refused_while_the_server_has_the_database_open(run_rpc, server_with_a_run, tmp_path: Path) -> None:
    server, _ = server_with_a_run
    database = server.home / "prefect.db"
    backup = tmp_path / "b.db"
    assert run_rpc(_request("database.backup", {"path": str(database), "destination": str(backup)})).response["ok"]
    before = _sha256(database)
    result = run_rpc(_request("database.restore", {"path": str(database), "backupPath": str(backup)}))
    assert result.code == 1
    assert (result.error["code"], result.error["category"], result.error["target"]) == ("ResourceBusy", "ResourceBusy", "path")
    assert "Stop" in result.error["remediation"]
    assert _sha256(database) == before
    assert not (server.home / "backups").exists(), "a refused restore keeps no safety copy either"


def test_restore_makes_the_database_the_backup_and_a_server_sees_the_old_runs(run_rpc, prefect_server_factory) -> None:
    server = prefect_server_factory()
    home = server.home
    try:
        _create_flow_run(server.api_url, "kept")
        backup = home / "kept.db"
        assert run_rpc(_request("database.backup", {"path": str(home / "prefect.db"), "destination": str(backup)})).response["ok"]
        _create_flow_run(server.api_url, "made-after-the-backup")
    finally:
        stop_prefect_server(server)
    database = home / "prefect.db"
    assert "made-after-the-backup" in _flow_run_names(database)

    plan = run_rpc(_request("database.restore", {"path": str(database), "backupPath": str(backup)}, what_if=True)).response
    assert plan["ok"] and [a["kind"] for a in plan["result"]["actions"]] == ["backup-database", "restore-database"]
    assert "made-after-the-backup" in _flow_run_names(database), "whatIf changes nothing"

    code, response, _ = run_rpc(_request("database.restore", {"path": str(database), "backupPath": str(backup)}))
    assert code == 0 and response["ok"], response
    result = response["result"]
    assert database.read_bytes() == backup.read_bytes(), "restored byte for byte"
    assert result["sha256"] == _sha256(backup)
    safety = Path(result["safetyBackup"])
    assert safety.parent == home / "backups" and "made-after-the-backup" in _flow_run_names(safety)
    for suffix in ("-wal", "-shm"):
        assert not Path(str(database) + suffix).exists()

    again = start_prefect_server(home)
    try:
        _wait_until_ready(again.api_url)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{again.api_url}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"}, method="POST")
        with opener.open(request, timeout=30) as answer:
            names = {run["name"] for run in json.loads(answer.read())}
        assert names == {"kept"}
    finally:
        stop_prefect_server(again)


def test_restore_refuses_a_damaged_or_foreign_backup(run_rpc, tmp_path: Path) -> None:
    database = tmp_path / "prefect.db"
    sqlite3.connect(database).execute("CREATE TABLE alembic_version (version_num TEXT)")
    original = database.read_bytes()
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)")
    result = run_rpc(_request("database.restore", {"path": str(database), "backupPath": str(foreign)}))
    assert (result.error["code"], result.error["target"]) == ("InvalidArgument", "backupPath")
    assert "not a Prefect database" in result.error["message"]
    assert database.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["foreign.db", "prefect.db"], "a refused restore writes nothing"


def test_a_failed_replacement_leaves_the_database_and_its_wal_as_they_were(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows refuses to replace a file another process opened after the in-use check (a
    # server starting, an antivirus scan): that failure must cost no committed data.
    from prefectwin.backup import sqlite as backup_sqlite

    database = tmp_path / "prefect.db"
    writer = sqlite3.connect(database)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE alembic_version (version_num TEXT)")
    writer.execute("INSERT INTO alembic_version VALUES ('committed-in-the-wal')")
    writer.commit()
    wal = Path(str(database) + "-wal")
    assert wal.exists() and wal.stat().st_size > 0, "the commit must still be in the WAL for this test"
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    backup = tmp_path.parent / f"{tmp_path.name}-backup.db"
    backup.write_bytes(b"the backup")

    real_replace = os.replace

    def refuse_the_database(source, destination):
        if os.fspath(destination) == str(database):
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        return real_replace(source, destination)

    monkeypatch.setattr(backup_sqlite.os, "replace", refuse_the_database)
    with pytest.raises(PermissionError):
        backup_sqlite.restore_copy(str(backup), str(database))
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert after == before, "the database, its -wal and -shm are back, and no temporary file is left"
    writer.close()  # only now: closing checkpoints the WAL into the file
    reader = sqlite3.connect(database)
    assert reader.execute("SELECT version_num FROM alembic_version").fetchall() == [("committed-in-the-wal",)]
    reader.close()
