"""Crash loops from NSSM's events: how often a service's application exited, and when. Pure.

NSSM logs to the Application log when it starts the application ("Started <app> <args> for
service <name> in <dir>") and when the application exits ("Program <app> for service <name>
exited with return code <n>"); it then restarts it (AppExit Default Restart). Those two
messages are matched here; the adapter only reads the events.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

_STARTED = re.compile(r"\bStarted .+ for service (?P<service>\S+) in ", re.IGNORECASE | re.DOTALL)
_EXITED = re.compile(r"\bfor service (?P<service>\S+) exited with (?:return|exit) code (?P<code>-?\d+)", re.IGNORECASE)
# RestartCount counts the exits of the last day; this many within CRASH_WINDOW_SEC is a loop.
COUNT_WINDOW_SEC = 86_400
CRASH_EXITS = 3
CRASH_WINDOW_SEC = 900


@dataclass(frozen=True)
class CrashFacts:
    restart_count: int = 0
    last_exit_code: Optional[int] = None
    last_start: Optional[float] = None
    recent_exits: int = 0

    @property
    def looping(self) -> bool:
        return self.recent_exits >= CRASH_EXITS


def _same(a: str, b: str) -> bool:
    return a.strip(".").lower() == b.lower()


def crash_facts(events: Sequence[dict[str, Any]], service: str, *, now: float) -> CrashFacts:
    """From a service's NSSM events (oldest first): exits in the last day, the last exit code,
    the last start, and the exits within CRASH_WINDOW_SEC."""
    exits: list[tuple[float, int]] = []
    last_start: Optional[float] = None
    for event in events:
        message, when = str(event.get("message") or ""), float(event["time"])
        exited = _EXITED.search(message)
        if exited and _same(exited["service"], service):
            exits.append((when, int(exited["code"])))
            continue
        started = _STARTED.search(message)
        if started and _same(started["service"], service):
            last_start = when if last_start is None else max(last_start, when)
    counted = [e for e in exits if now - e[0] <= COUNT_WINDOW_SEC]
    return CrashFacts(
        restart_count=len(counted),
        last_exit_code=exits[-1][1] if exits else None,
        last_start=last_start,
        recent_exits=sum(1 for when, _ in exits if now - when <= CRASH_WINDOW_SEC),
    )


def iso(epoch: Optional[float]) -> Optional[str]:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def loop_message(facts: CrashFacts, stderr_tail: Optional[str]) -> str:
    text = (
        f"crash loop: the application exited {facts.recent_exits} times in the last {CRASH_WINDOW_SEC // 60} minutes"
        f" (last exit code {facts.last_exit_code}); NSSM keeps restarting it"
    )
    return text + (f". Last lines of its stderr log:\n{stderr_tail}" if stderr_tail else "")
