"""Which ACL grants a service's account needs, which of them PrefectWin made, and which it
takes back. Pure, except `venv_home`, which reads one small file.

A service's account needs:
- Modify on PREFECT_HOME (its working directory, database and profiles), on its log folder,
  and on the folder of a SQLite database kept elsewhere;
- read and execute on the interpreter it runs: the venv, and the base Python a venv's
  python.exe starts (a per-user Python under C:\\Users\\<admin> is unreadable to others).

Only what the account lacks is granted. The grants made are recorded in the service's marker
("grants"), so that Uninstall, a changed account or a changed PREFECT_HOME revokes exactly
those and nothing that was there before. A service installed before grants were recorded has
no "grants" in its marker: see `unrecorded_owned`.
"""
from __future__ import annotations

import ntpath
import posixpath
from typing import Any, Iterable, Literal, Optional, Sequence

from pydantic import BaseModel, ConfigDict

Rights = Literal["Modify", "ReadAndExecute"]
MARKER_KEY = "grants"
VIRTUAL_ACCOUNT_PREFIX = "NT SERVICE\\"


class Grant(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    principal: str
    rights: Rights

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.path.rstrip("\\/").lower(), self.principal.lower(), self.rights)

    def marker_entry(self) -> dict[str, str]:
        return {"path": self.path, "principal": self.principal, "rights": self.rights}


def virtual_account(service: str) -> str:
    """The service's own virtual account; Windows creates it with the service, and removes it
    with it."""
    return VIRTUAL_ACCOUNT_PREFIX + service


def is_own_virtual_account(principal: str, service: str) -> bool:
    return principal.lower() == virtual_account(service).lower()


def _paths(flavor_path: str) -> Any:
    return ntpath if ("\\" in flavor_path or (len(flavor_path) > 1 and flavor_path[1] == ":")) else posixpath


def _inside(path: str, folder: str, paths: Any) -> bool:
    a, b = paths.normcase(paths.normpath(path)), paths.normcase(paths.normpath(folder))
    return a == b or a.startswith(b.rstrip("\\/") + paths.sep)


def runtime_directories(application: str, base_home: Optional[str] = None) -> tuple[str, ...]:
    """The folders whose files the service's interpreter loads: its environment (the venv root
    for ...\\Scripts\\python.exe or .../bin/python, else the interpreter's folder) and, for a
    venv, the base Python's folder (pyvenv.cfg's `home`)."""
    paths = _paths(application)
    folder = paths.dirname(application)
    if paths.basename(folder).lower() in ("scripts", "bin"):
        folder = paths.dirname(folder)
    found = [folder]
    if base_home and not _inside(base_home, folder, paths):
        found.append(base_home.rstrip("\\/") or base_home)
    return tuple(found)


def venv_home(application: str) -> Optional[str]:
    """pyvenv.cfg's `home` (the base interpreter's folder) for a venv's interpreter; None for a
    plain installation or when it cannot be read."""
    paths = _paths(application)
    scripts = paths.dirname(application)
    if paths.basename(scripts).lower() not in ("scripts", "bin"):
        return None
    folder = paths.dirname(scripts)
    try:
        with open(paths.join(folder, "pyvenv.cfg"), encoding="utf-8") as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep and key.strip().lower() == "home":
                    return value.strip() or None
    except OSError:
        return None
    return None


def wanted_grants(principal: str, modify: Sequence[str], read: Sequence[str]) -> tuple[Grant, ...]:
    """Modify on each folder of `modify`, read and execute on each of `read`, for the account.
    Every Modify folder gets its own grant (one that exists already may not inherit); a read
    folder inside a Modify folder is covered by it and left out."""
    modify_folders = list(dict.fromkeys(modify))
    read_folders = [f for f in dict.fromkeys(read) if not any(_inside(f, m, _paths(f)) for m in modify_folders)]
    return (
        *(Grant(path=p, principal=principal, rights="Modify") for p in modify_folders),
        *(Grant(path=p, principal=principal, rights="ReadAndExecute") for p in read_folders),
    )


def recorded_grants(marker: Optional[dict[str, Any]]) -> Optional[tuple[Grant, ...]]:
    """The grants a marker says PrefectWin made; None for a marker from before they were
    recorded (or no marker)."""
    if not marker or not isinstance(marker.get(MARKER_KEY), list):
        return None
    found = []
    for entry in marker[MARKER_KEY]:
        try:
            found.append(Grant.model_validate(entry))
        except ValueError:
            continue  # a hand-edited entry PrefectWin cannot read is not revoked blindly
    return tuple(found)


def unrecorded_owned(held: Iterable[Grant], service: str) -> tuple[Grant, ...]:
    """Of the grants an unrecorded (older) service's account holds, those PrefectWin may treat
    as its own: only those of the service's own virtual account, which exists for this service
    alone and goes away with it. Grants to any other account may predate PrefectWin or serve
    something else, so they are left alone (and reported)."""
    return tuple(g for g in held if is_own_virtual_account(g.principal, service))


def unrecorded_folders(marker: dict[str, Any]) -> list[str]:
    """The folders an older Install granted Modify on: PREFECT_HOME and the log folder."""
    logs = [_paths(p).dirname(p) for p in marker.get("logPaths") or [] if isinstance(p, str)]
    return [f for f in dict.fromkeys([marker.get("prefectHome"), *logs]) if f]


def keys(grants: Iterable[Grant]) -> set[tuple[str, str, str]]:
    return {g.key for g in grants}


def record_after(wanted: Sequence[Grant], made_now: Iterable[Grant], owned_before: Iterable[Grant]) -> tuple[Grant, ...]:
    """What the marker records after an install: of the wanted grants, those made now and those
    PrefectWin already owned. Grants that were there anyway are not recorded."""
    ours = keys(made_now) | keys(owned_before)
    return tuple(g for g in wanted if g.key in ours)


def marker_entries(grants: Iterable[Grant]) -> list[dict[str, str]]:
    return [g.marker_entry() for g in grants]


def describe(grant: Grant, *, revoke: bool = False) -> str:
    what = "Modify rights" if grant.rights == "Modify" else "read and execute rights"
    if revoke:
        return f"Revoke the {what} PrefectWin granted {grant.principal} on '{grant.path}'"
    return f"Grant {grant.principal} {what} on '{grant.path}'"


# -- grants another service still needs ------------------------------------------------------
class Need(BaseModel):
    """What another managed service's account relies on: the folders it needs Modify on and
    read and execute on (from its marker and interpreter), and the grants its marker records
    (None for an older marker)."""

    model_config = ConfigDict(frozen=True)

    service: str
    principal: str
    modify: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    recorded: Optional[tuple[Grant, ...]] = None


def need_of(service: str, principal: str, marker: dict[str, Any], application: Optional[str], base_home: Optional[str] = None) -> Need:
    """A managed service's needs, from its marker (PREFECT_HOME, log folder, a SQLite
    database's folder) and its interpreter (`runtime_directories`)."""
    sqlite = marker.get("sqlitePath")
    modify = [*unrecorded_folders(marker), *([_paths(sqlite).dirname(sqlite)] if isinstance(sqlite, str) and sqlite else [])]
    read = runtime_directories(application, base_home) if application else ()
    return Need(service=service, principal=principal, modify=tuple(dict.fromkeys(modify)), read=read, recorded=recorded_grants(marker))


def needed_by(grant: Grant, needs: Iterable[Need]) -> Optional[Need]:
    """The first other service whose account is the grant's principal and that records this
    grant or needs a folder at or under its path that the grant's rights serve (Modify serves
    both needs, read and execute only reading). A virtual account (NT SERVICE\\<name>) is one
    service's alone, so only a shared account (a gMSA, a domain user, LocalService...) matches."""
    for need in needs:
        if need.principal.lower() != grant.principal.lower():
            continue
        if grant.key in keys(need.recorded or ()):
            return need
        folders = [*need.read, *(need.modify if grant.rights == "Modify" else ())]
        if any(_inside(f, grant.path, _paths(grant.path)) for f in folders):
            return need
    return None


def release_plan(release: Sequence[Grant], needs: Sequence[Need]) -> tuple[tuple[Grant, ...], tuple[tuple[Grant, Need], ...]]:
    """(the grants an uninstall revokes, the grants it keeps with the service that still needs
    each). Revoking a grant another service of the same account relies on would take its access
    away: that grant stays."""
    revoke: list[Grant] = []
    kept: list[tuple[Grant, Need]] = []
    for grant in release:
        need = needed_by(grant, needs)
        if need is None:
            revoke.append(grant)
        else:
            kept.append((grant, need))
    return tuple(revoke), tuple(kept)


def handed_over(marker: dict[str, Any], kept: Iterable[Grant]) -> Optional[dict[str, Any]]:
    """The remaining service's marker recording the kept grants as its own, so that its own
    Uninstall revokes them; None when it records them already, or records no grants at all (an
    older marker: adding "grants" would change what its Uninstall takes back)."""
    current = recorded_grants(marker)
    if current is None:
        return None
    adding = [g for g in dict.fromkeys(kept) if g.key not in keys(current)]
    if not adding:
        return None
    return {**marker, MARKER_KEY: [*marker[MARKER_KEY], *marker_entries(adding)]}
