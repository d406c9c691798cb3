"""Planning an upgrade of Prefect in a service's interpreter. Pure: records and facts in, the
ordered actions (and notes for the admin) out.

Every service that runs from that interpreter goes down with it, and so do the running workers
of those servers, workers first. Then, with nothing holding the database:
1. `backup-database`: each SQLite database through SQLite's online backup API (PostgreSQL gets
   a note saying what to back up instead: PrefectWin cannot take it back);
2. `pip-install`: `prefect==<version>` into the interpreter; its undo installs the recorded
   previous distributions again (and removes what the upgrade added);
3. `migrate-database`: `prefect server database upgrade --yes` per server, in that server's own
   environment; its undo puts the backup back, byte for byte;
4. servers start, and a health gate waits for them; then the workers, and their gate.
A failure anywhere undoes the steps done, in reverse: the old version, the old database, and
the services running again as they were.
"""
from __future__ import annotations

import datetime as _dt
import ntpath
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from prefectwin.diagnosis.service import expand, interpreter_of, service_environment
from prefectwin.errors import InvalidArgument
from prefectwin.services.plan import Action
from prefectwin.services.restart import server_of, start_actions, stop_actions
from prefectwin.services.state import STOPPED, ServiceRecord, launcher_prefix

VERSION_PATTERN = r"^3\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$"
OLDEST_SUPPORTED = (3, 1)


def release(version: str) -> tuple[int, ...]:
    match = re.match(r"^(\d+(?:\.\d+)*)", version or "")
    return tuple(int(p) for p in match.group(1).split(".")) if match else ()


def _first(record: ServiceRecord, parameter: str) -> Optional[str]:
    values = record.parameters.get(parameter)
    return values[0] if values else None


def _same_path(a: Optional[str], b: Optional[str]) -> bool:
    if not a or not b:
        return False
    if "\\" in a or "\\" in b:
        return ntpath.normcase(a) == ntpath.normcase(b)
    return os.path.normpath(a) == os.path.normpath(b)


UNEXPANDED = re.compile(r"%[^%=\r\n]+%")


@dataclass(frozen=True)
class Launch:
    """How NSSM really starts a service, as the diagnosis reads it (diagnosis/service.py):
    %VAR% expanded in the service's environment, and for a venv's prefect launcher
    (Scripts\\prefect.exe) the python beside it, which is what pip has to upgrade."""

    application: str  # as NSSM holds it
    python: str
    cwd: Optional[str]

    @property
    def unexpanded(self) -> list[str]:
        """The %VAR% names that the service's environment does not set."""
        return UNEXPANDED.findall(self.python)


def launch_of(record: ServiceRecord, account_environment: Mapping[str, str]) -> Launch:
    """`account_environment`: the block the SCM gives the service's account (NSSM's own
    AppEnvironment / AppEnvironmentExtra go over it, as they do when NSSM expands)."""
    env, _ = service_environment(record.parameters, dict(account_environment))
    application = _first(record, "Application") or ""
    cwd = _first(record, "AppDirectory")
    return Launch(application=application, python=interpreter_of(expand(application, env)), cwd=expand(cwd, env) if cwd else None)


def service_environment_of(record: ServiceRecord) -> dict[str, str]:
    """The variables NSSM adds for the service (AppEnvironmentExtra), as the process sees them."""
    return dict(entry.partition("=")[::2] for entry in record.parameters.get("AppEnvironmentExtra", ()))


def backup_path(database: str, version_from: str, now: _dt.datetime) -> str:
    import posixpath

    from prefectwin.backup.plan import BACKUP_FOLDER, timestamp

    # The service's paths are the service's OS's (a Windows path planned in a test on Linux too).
    paths = ntpath if "\\" in database else posixpath
    stem, extension = paths.splitext(paths.basename(database))
    name = f"{stem}-before-{version_from}-upgrade-{timestamp(now)}{extension or '.db'}"
    return paths.join(paths.dirname(database), BACKUP_FOLDER, name)


def check_version(current: Optional[str], wanted: str, parameter: str = "Version") -> None:
    if not re.match(VERSION_PATTERN, wanted):
        raise InvalidArgument(
            f"'{wanted}' is not a Prefect 3 release number.",
            target=parameter,
            remediation="Give a release such as 3.9.1 (https://pypi.org/project/prefect/#history).",
        )
    if release(wanted)[:2] < OLDEST_SUPPORTED:
        raise InvalidArgument(f"Prefect {wanted} is older than PrefectWin supports (3.1).", target=parameter, remediation="Choose Prefect 3.1 or newer.")
    if current and release(wanted) < release(current):
        raise InvalidArgument(
            f"Prefect {wanted} is older than the installed {current}; a downgrade would leave the database at a newer schema than that release knows.",
            target=parameter,
            remediation="Restore the database backup taken before the upgrade (Restore-PrefectDatabase), then install the older release.",
        )


def plan_update(
    records: Sequence[ServiceRecord],
    name: str,
    *,
    launches: Mapping[str, Launch],
    current_version: Optional[str],
    version: str,
    wheel_path: Optional[str],
    previous_packages: Sequence[str],
    now: _dt.datetime,
    health_timeout_sec: int,
) -> tuple[list[Action], list[str]]:
    """(actions, notes). Empty actions when the interpreter already has `version`.
    `launches`: each managed record's Launch, by lower-case name (launch_of)."""
    target = next((r for r in records if r.name.lower() == name.lower()), None)
    if target is None or target.managed is None:
        raise InvalidArgument(f"Service '{name}' is not managed by PrefectWin.", target="Name", remediation="Get-PrefectService lists the services PrefectWin manages.")
    launch = launches.get(target.name.lower())
    if launch is None or not launch.application:
        raise InvalidArgument(f"Service '{name}' has no Application: it is not an NSSM service.", target="Name")
    python = launch.python
    check_version(current_version, version)
    if current_version == version:
        return [], [f"Prefect {version} is installed in '{python}' already."]

    def python_of(record: ServiceRecord) -> Optional[str]:
        found = launches.get(record.name.lower())
        return found.python if found else None

    sharing = [r for r in records if r.managed is not None and _same_path(python_of(r), python)]
    servers = [r for r in sharing if r.managed.get("role") == "Server"]
    all_servers = [r for r in records if (r.managed or {}).get("role") == "Server"]
    workers = []
    for record in records:
        if (record.managed or {}).get("role") != "Worker":
            continue
        owner = server_of(record, all_servers)
        if record in sharing or (owner in servers and record.status != STOPPED):
            workers.append(record)
    running_servers = [r for r in servers if r.status != STOPPED]
    running_workers = [r for r in workers if r.status != STOPPED]

    notes: list[str] = []
    if len(sharing) > 1:
        notes.append(f"'{python}' runs {len(sharing)} services ({', '.join(r.name for r in sharing)}); all of them are upgraded together.")
    actions: list[Action] = [*stop_actions(running_workers, " (a worker stops before its server)" if running_servers else ""), *stop_actions(running_servers, "")]

    backups: dict[str, str] = {}
    for server in servers:
        marker = server.managed
        database = marker.get("sqlitePath")
        if marker.get("database") == "postgresql" or not database:
            notes.append(
                f"Service '{server.name}' uses PostgreSQL, which PrefectWin does not back up: take a pg_dump of its database "
                "(pg_dump --format=custom --file=prefect-before-upgrade.dump DBNAME) before you apply this, and keep it; "
                "if the upgrade fails, the old Prefect comes back but its migration is not undone (pg_restore --clean that dump)."
            )
            continue
        if database in backups:
            continue
        destination = backup_path(database, current_version or "unknown", now)
        backups[database] = destination
        actions.append(
            Action(
                kind="backup-database",
                description=f"Back up the SQLite database '{database}' to '{destination}' (online backup), the way back if the upgrade fails",
                target=destination,
                impact="Low",
                data={"source": database, "destination": destination},
            )
        )

    source = f"the wheels in '{wheel_path}'" if wheel_path else "the package index"
    actions.append(
        Action(
            kind="pip-install",
            description=f"Install Prefect {version} into '{python}' from {source} (was {current_version or 'unknown'}; a failure installs {current_version or 'the recorded packages'} again)",
            target=python,
            impact="High",
            data={"python": python, "requirements": [f"prefect=={version}"], "wheelPath": wheel_path, "previous": list(previous_packages), "previousVersion": current_version},
        )
    )
    for server in servers:
        marker = server.managed
        database = marker.get("sqlitePath")
        sqlite = marker.get("database") != "postgresql" and database in backups
        actions.append(
            Action(
                kind="migrate-database",
                description=f"Migrate the database of service '{server.name}' to Prefect {version}'s schema (prefect server database upgrade)",
                target=server.name,
                impact="High",
                data={
                    "python": python,
                    "environment": service_environment_of(server),
                    # Its launcher and secrets file (paths only), when it starts through one.
                    "launcher": list(launcher_prefix(server)),
                    "cwd": launches[server.name.lower()].cwd if server.name.lower() in launches else _first(server, "AppDirectory"),
                    "database": database if sqlite else None,
                    "backup": backups.get(database) if sqlite else None,
                },
            )
        )
    actions += start_actions(running_servers, health_timeout_sec, "server")
    actions += start_actions(running_workers, health_timeout_sec, "worker")
    stopped = [r.name for r in sharing if r.status == STOPPED]
    if stopped:
        notes.append(f"{', '.join(repr(n) for n in stopped)} {'is' if len(stopped) == 1 else 'are'} stopped and stay{'s' if len(stopped) == 1 else ''} so: no health gate proves the new version there.")
    return actions, notes
