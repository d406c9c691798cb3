"""Which services a restart touches, and in which order. Pure: ServiceRecords in, Actions out.

A worker belongs to a server when its marker's API URL is the server's (loopback names are one
host) or when it depends on that server's service. Workers stop before their server, because a
worker whose server went first spends about 7 s retrying before it exits; and they start after
it, once the server answers, because a worker that starts first falls over or logs errors until
the server is up. Each start is followed by a health gate (`wait-healthy`).
"""
from __future__ import annotations

import urllib.parse
from typing import Optional, Sequence

from prefectwin.errors import InvalidArgument
from prefectwin.services.plan import Action
from prefectwin.services.state import STOPPED, ServiceRecord

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"})
DEFAULT_HEALTH_TIMEOUT_SEC = 120


def _role(record: ServiceRecord) -> Optional[str]:
    return (record.managed or {}).get("role")


def _url_key(url: Optional[str]) -> Optional[tuple[str, int, str]]:
    if not url:
        return None
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    host = "loopback" if host in LOOPBACK or host == "::1" else host
    return host, port, parts.path.rstrip("/")


def server_of(worker: ServiceRecord, servers: Sequence[ServiceRecord]) -> Optional[ServiceRecord]:
    """The PrefectWin server on this computer that `worker` talks to, if any."""
    depends = {d.lower() for d in worker.parameters.get("DependOnService", ())}
    key = _url_key((worker.managed or {}).get("apiUrl"))
    for server in servers:
        if server.name.lower() in depends:
            return server
    for server in servers:
        if key is not None and key == _url_key((server.managed or {}).get("apiUrl")):
            return server
    return None


def timeout_of(record: ServiceRecord) -> int:
    """How long to wait for a stop or a start: the service's stop timeout plus a margin."""
    return int((record.managed or {}).get("stopTimeoutMs", 15_000)) // 1000 + 30


def affected(records: Sequence[ServiceRecord], names: Sequence[str]) -> tuple[list[ServiceRecord], list[ServiceRecord]]:
    """(servers, workers) to restart for `names`: the named services, plus the running workers
    of every named server (they must stop before it)."""
    wanted = {n.lower() for n in names}
    servers = [r for r in records if _role(r) == "Server"]
    chosen_servers = [r for r in servers if r.name.lower() in wanted]
    workers = []
    for record in records:
        if _role(record) != "Worker":
            continue
        owner = server_of(record, servers)
        if record.name.lower() in wanted or (owner is not None and owner in chosen_servers and record.status != STOPPED):
            workers.append(record)
    others = [r for r in records if r.name.lower() in wanted and _role(r) not in ("Server", "Worker")]
    if others:
        raise InvalidArgument(
            f"The PrefectWin marker of {', '.join(repr(r.name) for r in others)} names no role; PrefectWin cannot tell what it must restart around it.",
            target="Name",
            remediation="Install the service again with Install-PrefectService -Force.",
        )
    return chosen_servers, workers


def stop_actions(records: Sequence[ServiceRecord], why: str) -> list[Action]:
    return [
        Action(
            kind="stop-service",
            description=f"Stop service '{r.name}'{why}",
            target=r.name,
            data={"timeoutSec": timeout_of(r)},
        )
        for r in records
        if r.status != STOPPED
    ]


def start_actions(records: Sequence[ServiceRecord], health_timeout_sec: int, what: str) -> list[Action]:
    """Start each service, then one health gate for all of them."""
    if not records:
        return []
    actions = [
        Action(kind="start-service", description=f"Start service '{r.name}'", target=r.name, data={"timeoutSec": timeout_of(r)}) for r in records
    ]
    names = [r.name for r in records]
    actions.append(
        Action(
            kind="wait-healthy",
            description=f"Wait up to {health_timeout_sec} s until {what} {', '.join(repr(n) for n in names)} {'is' if len(names) == 1 else 'are'} healthy",
            target=", ".join(names),
            impact="Low",
            data={"names": names, "timeoutSec": health_timeout_sec},
        )
    )
    return actions


def plan_restart(records: Sequence[ServiceRecord], names: Sequence[str], *, health_timeout_sec: int = DEFAULT_HEALTH_TIMEOUT_SEC) -> list[Action]:
    """Stop workers, stop servers, start servers and wait for them, start workers and wait."""
    servers, workers = affected(records, names)
    return [
        *stop_actions(workers, " (a worker stops before its server)" if servers else ""),
        *stop_actions(servers, ""),
        *start_actions(servers, health_timeout_sec, "server"),
        *start_actions(workers, health_timeout_sec, "worker"),
    ]
