"""`service.log`: a service's stdout and stderr logs (and NSSM's events) as entries.

Following (`Get-PrefectServiceLog -Wait`) is the PowerShell side calling again with the cursor
the previous answer returned: the bridge answers once per request, and its events are text
for Write-Verbose and friends, not objects, so a cursor keeps every entry a typed object and
lets one follower survive a backend restart. One request may name several services: their
entries are merged by time, each naming its service, and one cursor follows them all. The
cursor is opaque to the caller: base64 of each log's file identity and offset (taken by the
read that returned the tail, so that no line is shown twice), and per service the last NSSM
event read.
"""
from __future__ import annotations

import datetime as dt
import ntpath
import os
import re
from typing import Any, Callable, Literal, Mapping, NamedTuple, Optional, Sequence

from prefectwin.errors import InvalidArgument, NotFound, NotSupported
from prefectwin.models import Result
from prefectwin.services import logfiles, logparse
from prefectwin.services.logparse import Parsed

Stream = Literal["Stdout", "Stderr", "EventLog"]
STREAMS: tuple[Stream, ...] = ("Stdout", "Stderr", "EventLog")
EVENT_LEVELS = {"Information": "INFO", "Warning": "WARNING", "Error": "ERROR", "Critical": "CRITICAL"}
MAX_EVENTS = 1000


class LogEntry(Result):
    """PSTypeName PrefectWin.ServiceLogEntry."""

    time: Optional[str] = None
    level: Optional[str] = None
    logger: Optional[str] = None
    message: str
    stream: Stream
    service: Optional[str] = None
    path: Optional[str] = None
    raw: Optional[str] = None


class ServiceLog(Result):
    """The entries, oldest first, and where the next call with `cursor` carries on."""

    entries: list[LogEntry]
    cursor: str


def parse_since(text: Optional[str]) -> Optional[dt.datetime]:
    """-Since as naive local time. PowerShell sends DateTime.ToString('o'): up to 7 fraction
    digits and an offset, 'Z', or none (local)."""
    if text is None:
        return None
    value = text.strip().replace("Z", "+00:00")
    head, dot, rest = value.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = f"{head}.{rest[:min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"-Since '{text}' is not a date and time.", target="Since", remediation="Give a [datetime], e.g. (Get-Date).AddHours(-1).") from None
    return when.astimezone().replace(tzinfo=None) if when.tzinfo else when


_STDERR_NAME = re.compile(r"(?:^|[._-])(?:stderr|err)(?:[._-]|$)", re.IGNORECASE)


def stream_of_path(path: str) -> Stream:
    """Stderr for NSSM's `<name>.stderr.log` (and `.err.log`, `-stderr-...`), else Stdout."""
    return "Stderr" if _STDERR_NAME.search(ntpath.basename(path)) else "Stdout"


def _entry(parsed: Parsed, stream: Stream, service: Optional[str], path: Optional[str]) -> LogEntry:
    return LogEntry(
        time=parsed.when.astimezone().isoformat(timespec="milliseconds") if parsed.when else None,
        level=parsed.level,
        logger=parsed.logger,
        message=parsed.message,
        stream=stream,
        service=service,
        path=path,
        raw=parsed.raw,
    )


def event_entries(events: Sequence[dict[str, Any]], service: str, *, level: Optional[str]) -> list[tuple[Parsed, int]]:
    """NSSM's Application-log events (as the adapter reports them) as (entry, record id)."""
    out = []
    for event in events:
        when = dt.datetime.fromtimestamp(float(event["time"]))
        parsed = Parsed(message=str(event.get("message") or ""), level=EVENT_LEVELS.get(str(event.get("level")), "INFO"), logger="nssm", when=when)
        if logparse.level_at_least(parsed, level):
            out.append((parsed, int(event.get("recordId") or 0)))
    return out


class LogTarget(NamedTuple):
    """One log file to read: its stream, its path, and the service it belongs to (None for -Path)."""

    stream: Stream
    path: str
    service: Optional[str] = None


EventReader = Callable[[Optional[float]], Sequence[dict[str, Any]]]


def read_log(
    logs: Sequence[LogTarget],
    *,
    tail: Optional[int],
    since: Optional[dt.datetime],
    level: Optional[str],
    cursor: Optional[str],
    events: Optional[Mapping[str, EventReader]] = None,
) -> ServiceLog:
    """Entries of the given logs, of one service or several, merged by time. Without a cursor:
    the tail of each service (or everything since `since`); with one: what was written after
    it, every line once. `events[service](since_epoch)` returns NSSM's events for the service,
    when its Application log is to be read."""
    state = _decode(cursor, logs)
    positions: dict[str, logfiles.Position] = {}
    # (time, order, entry): `order` keeps the entries of one log in the order they were written.
    gathered: dict[Optional[str], list[tuple[Optional[dt.datetime], int, LogEntry]]] = {}
    order = 0
    for stream, path, service in logs:
        if state is None:
            # The position comes from the read itself: what is written meanwhile is followed.
            found, positions[path] = logfiles.tail_and_position(path, count=tail, since=since, level=level)
        else:
            found, positions[path] = logfiles.follow(state["logs"][path])
            found = logparse.select(found, since=since, level=level)
        for key, parsed in zip(logfiles.sort_key(found), found):
            gathered.setdefault(service, []).append((key, order, _entry(parsed, stream, service, path)))
            order += 1
    event_state: dict[str, dict[str, Any]] = dict((state or {}).get("events") or {})
    for service, reader in (events or {}).items():
        seen = event_state.get(service) or {}
        after = since.timestamp() if since and state is None else None
        if seen.get("time") is not None:
            after = float(seen["time"])
        found_events = event_entries(reader(after), service, level=level)
        if state is None and tail is not None:
            found_events = found_events[-tail:] if tail else []
        last = seen.get("record")
        for parsed, record in found_events:
            if last is not None and record <= int(last):
                continue
            gathered.setdefault(service, []).append((parsed.when, order, _entry(parsed, "EventLog", service, None)))
            order += 1
            last = record
            seen = {"record": record, "time": parsed.when.timestamp() if parsed.when else seen.get("time")}
        if last is not None:
            event_state[service] = seen
    # Undated lines sort with the entry before them; entries of one log keep their order.
    floor = dt.datetime.min
    merged: list[tuple[Optional[dt.datetime], int, LogEntry]] = []
    for items in gathered.values():
        items.sort(key=lambda item: (item[0] or floor, item[1]))
        if state is None and tail is not None:
            items = items[-tail:] if tail else []  # -Tail is per service
        merged.extend(items)
    merged.sort(key=lambda item: (item[0] or floor, item[1]))
    return ServiceLog(entries=[item[2] for item in merged], cursor=logfiles.encode_cursor(positions, {"events": event_state}))


def _decode(cursor: Optional[str], logs: Sequence[LogTarget]) -> Optional[dict]:
    if cursor is None:
        return None
    try:
        body = logfiles.decode_cursor(cursor)
        events = body.get("events") or {}
        if not isinstance(events, dict) or not all(isinstance(v, dict) for v in events.values()):
            raise ValueError("events")
    except ValueError:
        raise InvalidArgument("-Cursor is not a cursor that Get-PrefectServiceLog returned.", target="Cursor", remediation="Omit -Cursor.") from None
    known = body["logs"]
    # A log the cursor does not know (a service added to the follow) is followed from its end.
    body["logs"] = {t.path: logfiles.Position.from_dict(known[t.path]) if t.path in known else logfiles.start_position(t.path) for t in logs}
    return body


def log_targets(paths: Sequence[str], streams: Optional[Sequence[str]]) -> list[LogTarget]:
    wanted = set(streams or STREAMS)
    return [LogTarget(stream_of_path(p), p) for p in paths if stream_of_path(p) in wanted]


def service_logs(record: Any, streams: Optional[Sequence[str]]) -> list[LogTarget]:
    """A managed service's stdout and stderr log files, from its marker or NSSM's parameters."""
    marker = record.managed or {}
    pairs: list[LogTarget] = []
    for stream, parameter, index in (("Stdout", "AppStdout", 0), ("Stderr", "AppStderr", 1)):
        paths = marker.get("logPaths") or []
        value = paths[index] if len(paths) > index else (record.parameters.get(parameter) or (None,))[0]
        if value and (streams is None or stream in streams):
            pairs.append(LogTarget(stream, value, record.name))
    return pairs


def event_reader(adapter: Any, name: str, streams: Optional[Sequence[str]]) -> Optional[EventReader]:
    """How to read NSSM's events of service `name`, when they are wanted and can be read. Asked
    for all streams (no -Stream), a machine without the Application log (the POSIX stand-in
    for the SCM) gives the log files alone; asked for EventLog by name, it is NotSupported."""
    if streams is not None and "EventLog" not in streams:
        return None

    def read(after: Optional[float]) -> Sequence[dict[str, Any]]:
        try:
            return adapter.read_service_events(name, after, MAX_EVENTS)
        except NotSupported:
            if streams is not None:
                raise
            return []

    return read


def check_paths(paths: Sequence[str], following: bool) -> list[str]:
    resolved = [os.path.abspath(p) for p in paths]
    if not following and resolved and not any(os.path.isfile(p) or logfiles.rotated_copies(p) for p in resolved):
        raise NotFound(
            f"No log file at {', '.join(repr(p) for p in resolved)}.",
            target="Path",
            remediation="Check -Path; Get-PrefectService shows each service's LogPaths.",
        )
    return resolved
