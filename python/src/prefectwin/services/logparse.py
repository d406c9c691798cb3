"""Prefect's log lines as entries: pure parsing, dating and filtering, no file access.

Prefect's console handler writes `HH:MM:SS.mmm | LEVEL   | logger - message` (logging.yml,
formatter `standard`; flow and task runs put `Flow run 'name'` where the logger goes), and
uvicorn, inside `prefect server start`, writes `INFO:     message`. Anything else (the
server's banner, print() output) becomes an entry of its own with no level and its raw line.
Lines that continue an entry (a traceback, an indented multi-line message) are attached to it.

The standard format has a time of day but no date, so dates are inferred: the file's
modification time dates its last entry, and walking backwards a clock that jumps forward
means midnight was crossed.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional, Sequence

LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}
# The names the wire uses for -Level, lowest first.
LEVEL_NAMES = ("Debug", "Info", "Warning", "Error", "Critical")

_PREFECT = re.compile(
    r"^(?:(?P<date>\d{4}-\d{2}-\d{2})[ T])?(?P<time>\d{2}:\d{2}:\d{2})(?:[.,](?P<ms>\d{1,6}))?"
    r" \| (?P<level>[A-Z]+) *\| (?P<logger>.+?) - (?P<message>.*)$"
)
_UVICORN = re.compile(r"^(?P<level>TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<message>.*)$")
_TRACEBACK_START = ("Traceback (most recent call last):", "During handling of the above exception", "The above exception was the direct cause")
# The last line of a traceback: `ValueError: boom`, `pkg.mod.Error`, `KeyboardInterrupt`.
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Group)\b")


@dataclass(frozen=True)
class Parsed:
    """One entry as read: `clock` is the time of day, `date` only when the line had one."""

    message: str
    raw: Optional[str] = None
    level: Optional[str] = None
    logger: Optional[str] = None
    clock: Optional[dt.time] = None
    date: Optional[dt.date] = None
    start: int = 0  # byte offset of the entry's first line in its file
    end: int = 0  # byte offset just after its last line
    when: Optional[dt.datetime] = None  # set by assign_dates
    continued: bool = False  # has attached continuation lines
    _in_traceback: bool = field(default=False, repr=False, compare=False)


def _level(name: str) -> str:
    name = name.upper()
    return "WARNING" if name == "WARN" else name


def parse_header(line: str) -> Optional[Parsed]:
    match = _PREFECT.match(line)
    if match:
        ms = (match["ms"] or "0").ljust(6, "0")
        hh, mm, ss = (int(x) for x in match["time"].split(":"))
        try:
            clock = dt.time(hh, mm, ss, int(ms))
            date = dt.date.fromisoformat(match["date"]) if match["date"] else None
        except ValueError:
            return None
        return Parsed(message=match["message"], level=_level(match["level"]), logger=match["logger"], clock=clock, date=date)
    match = _UVICORN.match(line)
    if match:
        return Parsed(message=match["message"], level=_level(match["level"]), logger="uvicorn")
    return None


def _continues(entry: Parsed, line: str) -> bool:
    if line[:1] in (" ", "\t"):
        return True
    if line.startswith(_TRACEBACK_START):
        return entry.raw is None or entry._in_traceback
    return entry._in_traceback and bool(_EXCEPTION_LINE.match(line))


def parse(lines: Iterable[tuple[int, int, str]]) -> list[Parsed]:
    """Entries from (start offset, end offset, text without line break) triples, in order."""
    entries: list[Parsed] = []
    for start, end, text in lines:
        line = text.rstrip("\r")
        if not line.strip():
            continue
        header = parse_header(line)
        if header is None and entries and _continues(entries[-1], line):
            last = entries[-1]
            # A traceback runs from its first line to the unindented exception line.
            if line.startswith(_TRACEBACK_START):
                in_traceback = True
            elif line[:1] in (" ", "\t"):
                in_traceback = last._in_traceback
            else:
                in_traceback = False
            raw = None if last.raw is None else f"{last.raw}\n{line}"
            entries[-1] = replace(last, message=f"{last.message}\n{line}", raw=raw, end=end, continued=True, _in_traceback=in_traceback)
            continue
        if header is None:
            header = Parsed(message=line, raw=line, _in_traceback=line.startswith(_TRACEBACK_START))
        entries.append(replace(header, start=start, end=end))
    return entries


# Threads write lines a few milliseconds out of order, and a file system's modification time
# can be coarser than the log's milliseconds: a clock this much later is still the same day.
CLOCK_SLACK_SEC = 5.0


def _seconds(clock: dt.time) -> float:
    return clock.hour * 3600 + clock.minute * 60 + clock.second + clock.microsecond / 1e6


def assign_dates(entries: Sequence[Parsed], last_modified: dt.datetime) -> list[Parsed]:
    """Give every entry a full local datetime. An entry with a date keeps it; time-only ones
    are dated backwards from `last_modified` (naive local time of the file's last write)."""
    out: list[Parsed] = list(entries)
    day = last_modified.date()
    later: Optional[dt.time] = last_modified.time()
    for index in range(len(out) - 1, -1, -1):
        entry = out[index]
        if entry.clock is None:
            continue
        if entry.date is not None:
            day, later = entry.date, entry.clock
        elif later is not None and _seconds(entry.clock) > _seconds(later) + CLOCK_SLACK_SEC:
            day -= dt.timedelta(days=1)
        when = dt.datetime.combine(entry.date or day, entry.clock)
        later = entry.clock
        out[index] = replace(entry, when=when)
    return out


def level_at_least(entry: Parsed, minimum: Optional[str]) -> bool:
    if minimum is None:
        return True
    if entry.level is None:
        return False
    return LEVELS.get(entry.level, 0) >= LEVELS[minimum.upper()]


def select(entries: Sequence[Parsed], *, since: Optional[dt.datetime] = None, level: Optional[str] = None) -> list[Parsed]:
    """Entries at or after `since` (naive local time; undated raw lines follow the dated entry
    before them) and at or above `level`."""
    kept: list[Parsed] = []
    current: Optional[dt.datetime] = None
    for entry in entries:
        if entry.when is not None:
            current = entry.when
        if since is not None and (current is None or current < since):
            continue
        if level_at_least(entry, level):
            kept.append(entry)
    return kept
