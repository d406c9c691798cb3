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
