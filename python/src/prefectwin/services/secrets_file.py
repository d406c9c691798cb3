"""A service's secrets file: who may read it, as plain data, and the pure judgement of that.

The adapters report a file's access list as `FileAccess` (Windows: its DACL, by SID; POSIX: its
mode bits); `unwanted_readers` says who else but the service's account, SYSTEM and
Administrators can read it, and `access_problems` everything that makes it unsafe. The planner
rewrites a file with problems; the diagnosis (service.secrets-file) fails it.
"""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict

from prefectwin.target.launcher import unescape

SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"
# POSIX: root is the machine's administrator.
ROOT_ID = "uid:0"
TRUSTED = frozenset({SYSTEM_SID, ADMINISTRATORS_SID, ROOT_ID})
# Access-mask bits that let a principal read a file's data: FILE_READ_DATA, GENERIC_ALL,
# GENERIC_READ, MAXIMUM_ALLOWED.
READ_BITS = 0x1 | 0x10000000 | 0x80000000 | 0x02000000
# What writing a file's ACL or data needs: WRITE_DAC, WRITE_OWNER, FILE_WRITE_DATA,
# FILE_APPEND_DATA, GENERIC_ALL, GENERIC_WRITE.
WRITE_BITS = 0x40000 | 0x80000 | 0x2 | 0x4 | 0x10000000 | 0x40000000


class AccessEntry(BaseModel):
    """One allow or deny entry: who (name as the OS shows it, and its SID or uid:/gid: id)."""

    model_config = ConfigDict(frozen=True)

    principal: str
    sid: str
    rights: int
    allow: bool = True


class FileAccess(BaseModel):
    """A file's access list. `inherits`: whether entries of its folder apply to it too."""

    model_config = ConfigDict(frozen=True)

    owner: Optional[str] = None
    owner_sid: Optional[str] = None
    inherits: bool = False
    entries: tuple[AccessEntry, ...] = ()
    # The SID (or uid:) of the account the file is for, as the adapter resolved it; None when
    # the account is unknown to this machine.
    reader_sid: Optional[str] = None


def _can(entries: tuple[AccessEntry, ...], sid: str, bits: int) -> bool:
    denied = any(e.sid == sid and not e.allow and e.rights & bits for e in entries)
    return not denied and any(e.sid == sid and e.allow and e.rights & bits for e in entries)


def unwanted_readers(access: FileAccess) -> list[str]:
    """Who else can read the file: every principal with a read entry that is not the account,
    SYSTEM or Administrators (names, as the OS shows them)."""
    allowed = TRUSTED | ({access.reader_sid} if access.reader_sid else set())
    found: dict[str, str] = {}
    for entry in access.entries:
        if entry.allow and entry.rights & READ_BITS and entry.sid not in allowed and _can(access.entries, entry.sid, READ_BITS):
            found.setdefault(entry.sid, entry.principal)
    return list(found.values())


def access_problems(access: FileAccess, account: str) -> list[str]:
    """Why the file is not safe, or cannot serve the service; empty when it is right."""
    problems = []
    others = unwanted_readers(access)
    if others:
        problems.append(f"{', '.join(others)} can read it")
    if access.inherits:
        problems.append("it inherits the access of its folder")
    if access.reader_sid is None or not _can(access.entries, access.reader_sid, READ_BITS):
        problems.append(f"{account}, the service's account, cannot read it")
    elif _can(access.entries, access.reader_sid, WRITE_BITS):
        # Read only, as the account needs it; on POSIX the account owns the file (mode 0400).
        problems.append(f"{account} can change it")
    if access.owner_sid is not None and access.owner_sid not in TRUSTED | {access.reader_sid}:
        # An owner may always rewrite the access list.
        problems.append(f"its owner is {access.owner or access.owner_sid}")
    return problems


def file_values(text: str, table: Optional[str] = None) -> dict[str, str]:
    """The values a secrets file (ServiceSpec.secrets_text) holds: its `KEY = "value"` lines,
    read back without a TOML library (the backend may run on Python 3.9, without tomllib).
    `table` keeps one table's lines (the profile's settings, or the launcher's variables), so a
    rewrite puts each value back where it was; None keeps every table's."""
    found: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip().strip("[]").strip()
            continue
        key, sep, value = line.partition(" = ")
        value = value.strip()
        if table is not None and current != table:
            continue
        if sep and not line.startswith(("#", "active ")) and len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                found[key.strip('"')] = unescape(value[1:-1])
            except ValueError:
                continue
    return found
