"""`database.*`: back up and restore a Prefect server's SQLite database (Backup-PrefectDatabase,
Restore-PrefectDatabase). The same pieces serve an upgrade's backup and its way back."""
from __future__ import annotations

import datetime as _dt
import os
import sys
from typing import Optional

from pydantic import Field, field_validator

from prefectwin.backup.plan import DatabaseBackup
from prefectwin.models import Params, not_blank
from prefectwin.registry import Context, command

ACTIVITY = "Backing up the Prefect database"


class DatabaseLocation(Params):
    """Which database: a SQLite file, or else the effective database of the target's settings."""

    path: Optional[str] = Field(None, description="The SQLite database file; default: the one the target's Prefect settings name.")
    prefect_home: Optional[str] = Field(None, description="PREFECT_HOME whose settings name the database (with no path).")
    python_path: Optional[str] = Field(None, description="The interpreter Prefect runs under; default: the backend's own.")

    @field_validator("path", "prefect_home", "python_path")
    @classmethod
    def _not_blank(cls, value: Optional[str]) -> Optional[str]:
        return not_blank(value)


class DatabaseBackupParams(DatabaseLocation):
    destination: Optional[str] = Field(
        None, description="The backup file, or an existing folder for it; default: backups/ beside the database, named with the UTC time."
    )

    @field_validator("destination")
    @classmethod
    def _destination_not_blank(cls, value: Optional[str]) -> Optional[str]:
        return not_blank(value)


class DatabaseRestoreParams(DatabaseLocation):
    backup_path: str = Field(min_length=1, description="The backup file to restore (one that Backup-PrefectDatabase wrote).")


def _database_path(params: DatabaseLocation, ctx: Context) -> str:
    """The SQLite file to work on: `path`, or the target's effective database URL."""
    from prefectwin.backup.plan import sqlite_file_of

    if params.path:
        return os.path.abspath(params.path)
    from prefectwin.diagnosis import probe

    home = os.path.abspath(params.prefect_home) if params.prefect_home else None
    target = os.path.abspath(params.python_path) if params.python_path else None
    ctx.events.progress(ACTIVITY, "Asking the target interpreter which database Prefect uses", 10)
    python_facts, prefect_facts = probe.run_probe(
        target or sys.executable,
        env=probe.probe_environment(home),
        cwd=home if home and os.path.isdir(home) else None,
    )
    if not prefect_facts.installed or prefect_facts.database_url is None:
        from prefectwin.errors import ProbeFailed

        raise ProbeFailed(
            f"Cannot tell which database Prefect uses: Prefect is not installed in {python_facts.executable or target}.",
            target="pythonPath",
            remediation="Pass -Path with the SQLite file, or -PythonPath with the interpreter that runs the server.",
        )
    return os.path.abspath(sqlite_file_of(prefect_facts.database_url.get_secret_value(), parameter="path"))


@command("database.backup", params=DatabaseBackupParams, result=DatabaseBackup, changes_state=True)
def database_backup(params: DatabaseBackupParams, ctx: Context) -> DatabaseBackup:
    """Back up a Prefect server's SQLite database with SQLite's online backup API, safe while the server runs."""
    from prefectwin.backup import sqlite
    from prefectwin.backup.plan import backup_target, plan_backup
    from prefectwin.backup.steps import STEPS
    from prefectwin.change import engine, session
    from prefectwin.change.model import fingerprint, new_plan

    database = _database_path(params, ctx)
    destination = os.path.abspath(params.destination) if params.destination else None
    folder = bool(destination and os.path.isdir(destination))
    shown_plan = ctx.apply.plan if ctx.apply is not None else None
    if shown_plan is not None and len(shown_plan.actions) == 1 and (destination is None or folder):
        # The default name holds the time of planning: applying the plan shown keeps that name.
        destination, folder = shown_plan.actions[0].target, False
    target = backup_target(database, destination, _dt.datetime.now(_dt.timezone.utc), destination_is_folder=folder)
    plan = plan_backup(sqlite.inspect(database), target, target_exists=os.path.lexists(target))

    def recheck() -> str:
        return fingerprint(_file_state(database, plan.backup))

    def execute(p, confirm, run_ctx) -> DatabaseBackup:
        ran = engine.apply(p, steps=STEPS, runtime=None, events=run_ctx.events, confirm=confirm, command="database.backup", summary=f"Backup-PrefectDatabase {database}", activity=ACTIVITY)
        if not ran:
            return shown(p)
        written = sqlite.inspect(plan.backup, with_hash=True)
        return shown(p).model_copy(update={"changed": True, "size_bytes": written.size, "sha256": written.sha256, "flow_runs": written.flow_runs, "revision": written.revision})

    def shown(p) -> DatabaseBackup:
        return plan.model_copy(update={"actions": p.actions, "plan_id": p.id, "fingerprint": p.fingerprint})

    proposal = session.Proposal(plan=new_plan(plan.actions, _file_state(database, plan.backup)), recheck=recheck, show=shown, execute=execute)
    return session.offer(ctx, proposal)


def _file_state(*paths: str) -> dict:
    """What a database plan's fingerprint covers: each file's size and modification time."""
    state = {}
    for path in paths:
        try:
            info = os.stat(path)
            state[path] = [info.st_size, info.st_mtime_ns]
        except OSError:
            state[path] = None
    return state


@command("database.restore", params=DatabaseRestoreParams, result=DatabaseBackup, changes_state=True)
def database_restore(params: DatabaseRestoreParams, ctx: Context) -> DatabaseBackup:
    """Replace a stopped server's SQLite database with a backup, keeping the current file as a backup first."""
    from prefectwin.backup import sqlite
    from prefectwin.backup.plan import plan_restore
    from prefectwin.backup.steps import STEPS
    from prefectwin.change import engine, session
    from prefectwin.change.model import fingerprint, new_plan

    database = _database_path(params, ctx)
    backup = os.path.abspath(params.backup_path)
    shown_plan = ctx.apply.plan if ctx.apply is not None else None
    # The safety copy's default name holds the time of planning: applying the plan shown keeps it.
    safety = next((a.target for a in shown_plan.actions if a.kind == "backup-database"), None) if shown_plan is not None else None
    plan = plan_restore(
        sqlite.inspect(backup), sqlite.inspect(database), sqlite.in_use(database), _dt.datetime.now(_dt.timezone.utc), safety_path=safety
    )

    def recheck() -> str:
        return fingerprint({**_file_state(database, backup), "busy": sqlite.in_use(database)})

    def shown(p, ran=None) -> DatabaseBackup:
        return plan.model_copy(update={"actions": p.actions if ran is None else ran, "plan_id": p.id, "fingerprint": p.fingerprint})

    def execute(p, confirm, run_ctx) -> DatabaseBackup:
        ran = engine.apply(
            p, steps=STEPS, runtime=None, events=run_ctx.events, confirm=confirm, command="database.restore",
            summary=f"Restore-PrefectDatabase {database}", activity="Restoring the Prefect database",
        )
        if not any(a.kind == "restore-database" for a in ran):
            return shown(p, ran).model_copy(update={"changed": bool(ran)})
        restored = sqlite.inspect(database, with_hash=True)
        return shown(p).model_copy(update={"changed": True, "sha256": restored.sha256, "size_bytes": restored.size})

    state = {**_file_state(database, backup), "busy": sqlite.in_use(database)}
    return session.offer(ctx, session.Proposal(plan=new_plan(plan.actions, state), recheck=recheck, show=shown, execute=execute))
