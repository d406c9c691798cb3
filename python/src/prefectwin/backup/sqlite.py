"""SQLite files of a Prefect server: inspect, back up online, restore. This module touches the
file system; what to do with its answers is decided in `prefectwin.backup.plan`.

A backup goes through SQLite's online backup API (sqlite3.Connection.backup), never a file
copy: a running server may be writing, and a copied file of a live database (or its -wal
sidecar alone) can be torn. A restore runs while nothing uses the database, so it replaces the
file with an exact copy of the backup: the database is then the backup, byte for byte.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import urllib.parse
from dataclasses import dataclass
from typing import Optional

# Prefect's migrations record their revision here; a file without it is not a Prefect database.
REVISION_TABLE = "alembic_version"
SIDECARS = ("-wal", "-shm", "-journal")
BUSY_TIMEOUT_SEC = 5.0


@dataclass(frozen=True)
class DatabaseFile:
    """What a SQLite file holds, as far as backing it up and restoring it care."""

    path: str
    exists: bool
    is_sqlite: bool = False
    integrity: Optional[str] = None
    revision: Optional[str] = None
    flow_runs: Optional[int] = None
    size: Optional[int] = None
    sha256: Optional[str] = None
    error: Optional[str] = None


def _read_only(path: str) -> sqlite3.Connection:
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SEC)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inspect(path: str, *, with_hash: bool = False) -> DatabaseFile:
    """Open `path` read-only and report what it is. Never creates or changes the file."""
    if not os.path.isfile(path):
        return DatabaseFile(path=path, exists=os.path.exists(path), error=None if not os.path.exists(path) else "not a file")
    try:
        connection = _read_only(path)
        try:
            integrity = connection.execute("PRAGMA quick_check").fetchone()[0]
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = None
            if REVISION_TABLE in tables:
                row = connection.execute(f"SELECT version_num FROM {REVISION_TABLE}").fetchone()
                revision = row[0] if row else None
            flow_runs = connection.execute("SELECT count(*) FROM flow_run").fetchone()[0] if "flow_run" in tables else None
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        return DatabaseFile(path=path, exists=True, size=os.path.getsize(path), error=str(exc))
    return DatabaseFile(
        path=path,
        exists=True,
        is_sqlite=True,
        integrity=integrity,
        revision=revision,
        flow_runs=flow_runs,
        size=os.path.getsize(path),
        sha256=file_sha256(path) if with_hash else None,
    )


def _temporary_beside(path: str, purpose: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=f".{purpose}", dir=folder)
    os.close(handle)
    return temporary


def backup_online(source: str, destination: str) -> None:
    """A consistent copy of `source` at `destination`, even while a server writes to it. The
    copy is built under a temporary name beside the destination and renamed when complete, so
    an interrupted backup never leaves a file that looks like a good one."""
    os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
    temporary = _temporary_beside(destination, "partial")
    try:
        reader = _read_only(source)
        try:
            writer = sqlite3.connect(temporary)
            try:
                reader.backup(writer)
                # A backup in WAL mode would need its -wal sidecar; one self-contained file is
                # what gets restored and compared.
                writer.execute("PRAGMA journal_mode=DELETE")
            finally:
                writer.close()
        finally:
            reader.close()
        os.replace(temporary, destination)
    except BaseException:
        _remove_quietly(temporary)
        raise


def in_use(path: str) -> Optional[str]:
    """Why `path` cannot be replaced now, or None. In WAL mode (Prefect's) every open
    connection, even an idle one in a server's pool, keeps a shared lock on the file, so an
    exclusive lock in exclusive locking mode succeeds only when nobody has it open."""
    if not os.path.isfile(path):
        return None
    try:
        connection = sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=rw", uri=True, timeout=0.5)
        try:
            connection.execute("PRAGMA locking_mode=EXCLUSIVE")
            connection.execute("BEGIN EXCLUSIVE")
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.OperationalError as exc:
        return str(exc)
    return None


def restore_copy(backup: str, database: str) -> None:
    """Replace `database` with an exact copy of `backup`, atomically: a temporary copy beside
    it, then a rename. The old file's sidecars (-wal, -shm) belong to the old file: they are
    moved aside first and deleted only once the new file is in place, and put back if the
    replacement fails, so a failure leaves the old database with the commits its WAL holds."""
    temporary = _temporary_beside(database, "restoring")
    moved: list[tuple[str, str]] = []
    try:
        with open(backup, "rb") as source, open(temporary, "wb") as target:
            for block in iter(lambda: source.read(1 << 20), b""):
                target.write(block)
            target.flush()
            os.fsync(target.fileno())
        for suffix in SIDECARS:
            if os.path.exists(database + suffix):
                aside = f"{temporary}{suffix}"
                os.replace(database + suffix, aside)
                moved.append((database + suffix, aside))
        os.replace(temporary, database)
    except BaseException:
        for original, aside in reversed(moved):
            os.replace(aside, original)
        _remove_quietly(temporary)
        raise
    for _, aside in moved:
        _remove_quietly(aside)


def remove_file(path: str) -> None:
    _remove_quietly(path)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
