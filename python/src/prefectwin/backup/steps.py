"""How a database action is carried out (prefectwin.backup.sqlite) and how it is undone: a
backup written by this run is deleted again; a restored database is put back from the safety
copy taken just before. The change engine (change/engine.py) runs them."""
from __future__ import annotations

from typing import Any, Optional

from prefectwin.change.engine import NotReversible, Steps
from prefectwin.change.model import Action


def runtime(context: dict[str, Any]) -> None:
    return None


def perform(action: Action, runtime: Any) -> None:
    from prefectwin.backup import sqlite

    data = action.data
    if action.kind == "backup-database":
        sqlite.backup_online(data["source"], data["destination"])
    elif action.kind == "restore-database":
        sqlite.restore_copy(data["backup"], data["database"])
    elif action.kind == "remove-backup":
        sqlite.remove_file(data["path"])
    else:
        raise ValueError(f"unknown database action {action.kind}")


def inverse(action: Action) -> Optional[Action]:
    data = action.data
    if action.kind == "backup-database":
        return Action(id=f"undo-{action.id}", kind="remove-backup", description=f"Delete the backup '{data['destination']}' written by this run", target=data["destination"], data={"path": data["destination"]})
    if action.kind == "restore-database" and data.get("safety"):
        return Action(
            id=f"undo-{action.id}",
            kind="restore-database",
            description=f"Put the database '{data['database']}' back from '{data['safety']}'",
            target=data["database"],
            data={"backup": data["safety"], "database": data["database"]},
        )
    raise NotReversible("there is no copy of the database as it was")


STEPS = Steps(module=__name__, perform=perform, inverse=inverse)
