"""Reading a service's log files: the tail, what is new since a cursor, and NSSM's rotated copies.

NSSM writes `<name>.stdout.log` and `<name>.stderr.log`; rotating, it renames the file to
`<stem>-<yyyyMMddTHHmmss.fff><ext>` and opens a new one. A follower therefore keeps the file's
identity (device and inode; on Windows the file index) with its offset: when the path names
another file, or a smaller one, the old file's rest is read first, found by its identity among
the rotated copies, and the new file from its start.

The only file access is here; parsing and filtering are in `logparse`.
"""
from __future__ import annotations

import base64
import datetime as dt
import glob
import json
import os
import re
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

from prefectwin.services import logparse
from prefectwin.services.logparse import Parsed

# How much of a file one poll reads at most; a follower catches up over several polls.
MAX_CHUNK = 4 * 1024 * 1024
TAIL_BLOCK = 64 * 1024
_ROTATED_STAMP = re.compile(r"-\d{8}T\d{6}(?:\.\d{1,3})?$")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def split_lines(data: bytes, base: int, *, final: bool = False) -> tuple[list[tuple[int, int, str]], int]:
    """Complete lines of `data` (read at file offset `base`) as (start, end, text), and the
    offset after the last complete one. With `final`, a last line without its newline counts."""
    lines: list[tuple[int, int, str]] = []
    position = 0
    while True:
        newline = data.find(b"\n", position)
        if newline < 0:
            break
        lines.append((base + position, base + newline + 1, _decode(data[position:newline])))
        position = newline + 1
    if final and position < len(data):
        lines.append((base + position, base + len(data), _decode(data[position:])))
        position = len(data)
    return lines, base + position


def rotated_copies(path: str) -> list[str]:
    """NSSM's rotated copies of a log file, oldest first (their names sort by time)."""
    stem, ext = os.path.splitext(path)
    found = []
    for candidate in glob.glob(glob.escape(stem) + "-*" + glob.escape(ext)):
        if _ROTATED_STAMP.search(os.path.splitext(candidate)[0]) and os.path.isfile(candidate):
            found.append(candidate)
    return sorted(found)


def _modified(stat: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(stat.st_mtime)


def _file_id(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}"


def _entries_of(handle, stat: os.stat_result, *, max_entries: Optional[int], final: bool) -> tuple[list[Parsed], int]:
    """The entries in an open file up to `stat`'s size, dated, and the offset after the last
    line read. With max_entries, only enough of its end is read for that many."""
    size = stat.st_size
    block = TAIL_BLOCK
    while True:
        start = 0 if max_entries is None else max(0, size - block)
        handle.seek(start)
        data = handle.read(size - start)
        if start > 0:
            # The first line is cut, and may be the middle of a traceback: skip to a header.
            cut = data.find(b"\n") + 1
            data, start = data[cut:], start + cut
        lines, end = split_lines(data, start, final=final)
        entries = logparse.parse(lines)
        if start > 0 and entries:
            entries = entries[1:]
        if max_entries is None or start == 0 or len(entries) > max_entries:
            break
        block *= 4
    dated = logparse.assign_dates(entries, _modified(stat))
    return (dated if max_entries is None else dated[-max_entries:] if max_entries else []), end


def read_entries(path: str, *, max_entries: Optional[int] = None) -> list[Parsed]:
    """A file's entries, dated. With max_entries, only enough of its end is read for that many."""
    with open(path, "rb") as handle:
        return _entries_of(handle, os.fstat(handle.fileno()), max_entries=max_entries, final=True)[0]


def tail(path: str, *, count: Optional[int], since: Optional[dt.datetime], level: Optional[str]) -> list[Parsed]:
    """The last `count` entries (all with None) of a log, at or after `since` and at or above
    `level`. Rotated copies are read too, newest first, while more entries are wanted."""
    return tail_and_position(path, count=count, since=since, level=level)[0]


def tail_and_position(path: str, *, count: Optional[int], since: Optional[dt.datetime], level: Optional[str]) -> tuple[list[Parsed], "Position"]:
    """`tail`, and where a follower carries on: the live file as this very read saw it (its
    identity and the end of its last complete line, through the one handle it was read
    with), so that a line written while the tail is read is followed once, neither shown
    twice nor lost, and a rotation meanwhile is followed from the file that was read.

    A last line without its line break is still being written: it is left to the follower,
    which shows it whole once the line is complete."""
    collected: list[list[Parsed]] = []
    total = 0
    position = Position(path=path)  # no live file: a follower reads the next one from its start

    def wanted() -> Optional[int]:
        return None if (since is not None or count is None or level is not None) else count - total

    live_id = None
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            live_id = _file_id(stat)
            if since is not None and _modified(stat) < since:
                # Nothing here is recent enough, nor in the older copies; follow from the end.
                return [], Position(path=path, file_id=live_id, offset=stat.st_size)
            entries, end = _entries_of(handle, stat, max_entries=wanted(), final=False)
        position = Position(path=path, file_id=live_id, offset=end)
        entries = logparse.select(entries, since=since, level=level)
        collected.insert(0, entries)
        total += len(entries)
    except FileNotFoundError:
        pass
    enough = count is not None and total >= count
    if not enough and (live_id is None or since is not None or count is not None):
        # Older copies, newest first; the live file read above may have been rotated since.
        older = [f for f in rotated_copies(path) if _identity(f) != live_id]
        if since is None and count is None:
            older = older[-1:]
        for file in reversed(older):
            try:
                if since is not None and _modified(os.stat(file)) < since:
                    break
                entries = logparse.select(read_entries(file, max_entries=wanted()), since=since, level=level)
            except FileNotFoundError:  # rotated away between listing and reading
                continue
            collected.insert(0, entries)
            total += len(entries)
            if count is not None and total >= count:
                break
    merged = [entry for entries in collected for entry in entries]
    return (merged[-count:] if count else merged if count is None else []), position


def _identity(path: str) -> Optional[str]:
    try:
        return _file_id(os.stat(path))
    except FileNotFoundError:
        return None


# -- following ------------------------------------------------------------------------------
@dataclass
class Position:
    """Where a follower is in one log: the file's identity, the offset read up to, and, when
    the last entry read may still grow (a traceback being written), where it began."""

    path: str
    file_id: Optional[str] = None
    offset: int = 0
    held: Optional[int] = None  # the file size when the last entry was held back

    def to_dict(self) -> dict:
        return {"path": self.path, "fileId": self.file_id, "offset": self.offset, "held": self.held}

    @classmethod
    def from_dict(cls, data: dict) -> "Position":
        return cls(path=str(data["path"]), file_id=data.get("fileId"), offset=int(data.get("offset") or 0), held=data.get("held"))


def encode_cursor(positions: dict[str, Position], extra: Optional[dict] = None) -> str:
    body = {"v": 1, "logs": {k: p.to_dict() for k, p in positions.items()}, **(extra or {})}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode("utf-8")).decode("ascii")


def decode_cursor(text: str) -> dict:
    """The cursor's data; ValueError when it is not one this module wrote."""
    try:
        body = json.loads(base64.urlsafe_b64decode(text.encode("ascii")).decode("utf-8"))
        if not isinstance(body, dict) or body.get("v") != 1 or not isinstance(body.get("logs"), dict):
            raise ValueError("not a cursor")
        for data in body["logs"].values():
            Position.from_dict(data)
        return body
    except (ValueError, TypeError, KeyError, UnicodeError) as exc:
        raise ValueError(str(exc)) from None


def start_position(path: str) -> Position:
    """A follower's position at the current end of a log."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return Position(path=path)
    return Position(path=path, file_id=_file_id(stat), offset=stat.st_size)


def _read_from(path: str, offset: int, *, final: bool) -> tuple[list[tuple[int, int, str]], int, os.stat_result]:
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        handle.seek(offset)
        data = handle.read(min(MAX_CHUNK, max(0, stat.st_size - offset)))
    lines, end = split_lines(data, offset, final=final)
    return lines, end, stat


def _rotated_by_id(path: str, file_id: str) -> Optional[str]:
    for candidate in reversed(rotated_copies(path)):
        try:
            if _file_id(os.stat(candidate)) == file_id:
                return candidate
        except FileNotFoundError:
            continue
    return None


def follow(position: Position) -> tuple[list[Parsed], Position]:
    """The entries written since `position`, and the position after them.

    The last entry read is held back for one poll when nothing follows it yet, so that a
    traceback written in pieces still arrives as one entry."""
    entries: list[Parsed] = []
    try:
        stat = os.stat(position.path)
    except FileNotFoundError:
        return [], position  # between NSSM's rename and its new file
    current_id = _file_id(stat)
    if position.file_id is not None and (current_id != position.file_id or stat.st_size < position.offset):
        if current_id != position.file_id:
            old = _rotated_by_id(position.path, position.file_id)
            if old is not None:
                lines, _, old_stat = _read_from(old, position.offset, final=True)
                entries.extend(logparse.assign_dates(logparse.parse(lines), _modified(old_stat)))
        position = Position(path=position.path, file_id=current_id, offset=0)
    elif position.file_id is None:
        position = Position(path=position.path, file_id=current_id, offset=0)
    lines, end, stat = _read_from(position.path, position.offset, final=False)
    new = logparse.assign_dates(logparse.parse(lines), _modified(stat))
    if new and position.held != stat.st_size and new[-1].end == end:
        # Nothing after the last entry yet: hold it, unless it was already held at this size.
        held = new.pop()
        entries.extend(new)
        return entries, Position(path=position.path, file_id=current_id, offset=held.start, held=stat.st_size)
    entries.extend(new)
    return entries, Position(path=position.path, file_id=current_id, offset=end)


def iter_lines(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, line) of a text, for callers that parse what is already in memory."""
    offset = 0
    for line in text.splitlines(keepends=True):
        yield offset, offset + len(line), line.rstrip("\r\n")
        offset += len(line)


def stderr_tail(path: Optional[str], count: int = 5, max_chars: int = 600) -> Optional[str]:
    """The last entries of a stderr log as one short text, for a health message."""
    if not path or not os.path.isfile(path):
        return None
    try:
        entries = read_entries(path, max_entries=count)
    except OSError:
        return None
    text = "\n".join(e.raw if e.raw is not None else f"{e.level} | {e.logger} - {e.message}" for e in entries).strip()
    return text[-max_chars:] if text else None


def sort_key(entries: Sequence[Parsed]) -> list[Optional[dt.datetime]]:
    """Each entry's time, an undated entry taking the time of the dated one before it."""
    keys: list[Optional[dt.datetime]] = []
    current: Optional[dt.datetime] = None
    for entry in entries:
        current = entry.when or current
        keys.append(current)
    return keys
