"""Deciding a backup or a restore of a Prefect server's SQLite database. Pure: facts in,
actions (or a structured refusal) out; `prefectwin.backup.sqlite` gathers the facts and does
the work."""
from __future__ import annotations

import datetime as _dt
import os
from typing import Optional

from pydantic import Field

from prefectwin.backup.sqlite import DatabaseFile
from prefectwin.diagnosis.database import database_kind, sqlite_path
from prefectwin.errors import InvalidArgument, NotFound, NotSupported, ResourceBusy
from prefectwin.change.model import Action, Planned, number
from prefectwin.secrets import mask_url

BACKUP_FOLDER = "backups"


class DatabaseBackup(Planned):
    """A backup written, or a restore done (or, with whatIf, planned)."""

    changed: bool
    actions: list[Action]
    database: str
    backup: str
    safety_backup: Optional[str] = None
    revision: Optional[str] = None
    flow_runs: Optional[int] = None
    size_bytes: Optional[int] = None
    sha256: Optional[str] = None


def timestamp(now: _dt.datetime) -> str:
    return now.astimezone(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def sqlite_file_of(url: str, *, parameter: str) -> str:
    """The SQLite file behind a database URL, or the reason PrefectWin cannot back it up."""
    kind = database_kind(url)
    if kind == "postgresql":
        raise NotSupported(
            f"The database is PostgreSQL ({mask_url(url)}); PrefectWin backs up SQLite files only.",
            target=parameter,
            remediation=(
                "Back up PostgreSQL with its own tools: 'pg_dump --format=custom --file=prefect.dump "
                "--host HOST --port PORT --username USER DBNAME' while the server runs, and "
                "'pg_restore --clean --dbname DBNAME prefect.dump' with the server stopped."
            ),
        )
    if kind != "sqlite":
        raise NotSupported(f"Cannot back up the database {mask_url(url)}: not SQLite.", target=parameter, remediation="Use the database's own backup tools.")
    path = sqlite_path(url)
    if path is None:
        raise InvalidArgument(
            "The database is in memory: there is no file to back up.",
            target=parameter,
            remediation="Point PREFECT_SERVER_DATABASE_CONNECTION_URL at a file, or pass -Path.",
        )
    return path


def default_backup_path(database: str, now: _dt.datetime, *, label: str = "") -> str:
    stem, extension = os.path.splitext(os.path.basename(database))
    suffix = f"-{label}" if label else ""
    return os.path.join(os.path.dirname(database), BACKUP_FOLDER, f"{stem}{suffix}-{timestamp(now)}{extension or '.db'}")


def _require_prefect_database(facts: DatabaseFile, *, parameter: str, role: str) -> None:
    if not facts.exists:
        raise NotFound(f"The {role} '{facts.path}' does not exist.", target=parameter, remediation=f"Check -{parameter[0].upper()}{parameter[1:]}.")
    if not facts.is_sqlite:
        raise InvalidArgument(
            f"The {role} '{facts.path}' is not a SQLite database: {facts.error}.",
            target=parameter,
            remediation="Name a SQLite file that a Prefect server created.",
        )
    if facts.integrity != "ok":
        raise InvalidArgument(
            f"The {role} '{facts.path}' fails SQLite's integrity check: {facts.integrity}.",
            target=parameter,
            remediation="Use another backup; this file is damaged.",
        )
    if facts.revision is None:
        raise InvalidArgument(
            f"The {role} '{facts.path}' is SQLite but not a Prefect database (it has no migration revision).",
            target=parameter,
            remediation="Name the prefect.db of a Prefect server, or a backup of one.",
        )


def backup_target(database: str, destination: Optional[str], now: _dt.datetime, *, destination_is_folder: bool) -> str:
    """The file a backup of `database` goes to: -Destination, a file named by the time in the
    -Destination folder, or the default beside the database."""
    if destination is None:
        return default_backup_path(database, now)
    if destination_is_folder:
        return os.path.join(destination, os.path.basename(default_backup_path(database, now)))
    return destination


def plan_backup(source: DatabaseFile, target: str, *, target_exists: bool) -> DatabaseBackup:
    """`target`: from backup_target; `target_exists`: whether a file is there already (a
    backup never overwrites one, so the plan refuses it, not only the apply)."""
    _require_prefect_database(source, parameter="path", role="database")
    if os.path.abspath(target) == os.path.abspath(source.path):
        raise InvalidArgument("The backup cannot overwrite the database itself.", target="destination", remediation="Choose another -Destination.")
    if target_exists:
        raise InvalidArgument(
            f"The backup file '{target}' exists already; a backup never overwrites one, so nothing was written.",
            target="destination",
            remediation="Choose another -Destination file, or give a folder (the backup is then named with the UTC time).",
        )
    action = Action(
        kind="backup-database",
        description=f"Back up the SQLite database '{source.path}' to '{target}' (online backup)",
        target=target,
        data={"source": source.path, "destination": target},
    )
    return DatabaseBackup(
        changed=False,
        actions=number([action]),
        database=source.path,
        backup=target,
        revision=source.revision,
        flow_runs=source.flow_runs,
    )


def plan_restore(
    backup: DatabaseFile, database: DatabaseFile, busy: Optional[str], now: _dt.datetime, *, safety_path: Optional[str] = None
) -> DatabaseBackup:
    """`safety_path`: the safety copy's name as a plan shown earlier gave it (it holds the time)."""
    _require_prefect_database(backup, parameter="backupPath", role="backup")
    if os.path.abspath(backup.path) == os.path.abspath(database.path):
        raise InvalidArgument("The backup and the database are the same file.", target="backupPath", remediation="Name a backup file.")
    if busy:
        raise ResourceBusy(
            f"The database '{database.path}' is in use ({busy}).",
            target="path",
            remediation="Stop the Prefect server (and its workers) that use it, then restore.",
        )
    actions: list[Action] = []
    safety = None
    if database.exists:
        safety = safety_path or default_backup_path(database.path, now, label="before-restore")
        actions.append(
            Action(
                kind="backup-database",
                description=f"Keep the current database '{database.path}' as '{safety}'",
                target=safety,
                data={"source": database.path, "destination": safety},
            )
        )
    actions.append(
        Action(
            kind="restore-database",
            description=f"Replace the SQLite database '{database.path}' with the backup '{backup.path}' (revision {backup.revision})",
            target=database.path,
            data={"backup": backup.path, "database": database.path, "safety": safety},
        )
    )
    actions = number(actions)
    if safety is not None:
        # The database is replaced only once the safety copy of it exists.
        actions[-1] = actions[-1].model_copy(update={"depends_on": [actions[0].id]})
    return DatabaseBackup(
        changed=False,
        actions=actions,
        database=database.path,
        backup=backup.path,
        safety_backup=safety,
        revision=backup.revision,
        flow_runs=backup.flow_runs,
        size_bytes=backup.size,
    )
