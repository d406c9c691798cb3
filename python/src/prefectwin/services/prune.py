"""`python -m prefectwin prune-logs <service>`: apply a service's log retention now.

The daily scheduled task Install-PrefectService registers runs this as SYSTEM. It reads the
retention and the log paths from the service's marker (so a changed retention needs no new
task), plans the deletions as service.install does, and applies them through the adapter.
"""
from __future__ import annotations

import time
from typing import Any, Optional

from prefectwin.errors import NotFound
from prefectwin.events import SilentEvents
from prefectwin.services.spec import DEFAULT_RETENTION_COUNT, DEFAULT_RETENTION_DAYS


def prune_service_logs(name: str, adapter: Any, now: Optional[float] = None) -> list[str]:
    """Delete the service's rotated logs beyond its retention; the paths deleted."""
    from prefectwin.change import engine
    from prefectwin.change.model import new_plan
    from prefectwin.services.plan import plan_prune
    from prefectwin.services.steps import STEPS, Runtime
    from prefectwin.services.state import rotated_logs

    record = adapter.read_service(name)
    marker = (record.managed if record is not None else None) or None
    if marker is None:
        raise NotFound(f"Service '{name}' is not a PrefectWin service.", target=name, remediation="Get-PrefectService lists the services PrefectWin manages.")
    retention = marker.get("logRetention") or {}
    keep = int(retention.get("count") or DEFAULT_RETENTION_COUNT)
    days = int(retention.get("days", DEFAULT_RETENTION_DAYS))
    actions = plan_prune(name, rotated_logs(list(marker.get("logPaths") or [])), keep=keep, days=days, now=time.time() if now is None else now)
    if actions:
        # Unjournalled: a deletion cut short is finished by the next day's run.
        engine.apply(new_plan(actions, None), steps=STEPS, runtime=Runtime(adapter, None), events=SilentEvents(), journal=False, command="prune-logs")
    return [a.target for a in actions]


def main(argv: list[str]) -> int:
    import json
    import sys

    from prefectwin.errors import PrefectWinError
    from prefectwin.system import get_adapter

    if len(argv) != 1:
        print("usage: python -m prefectwin prune-logs SERVICE", file=sys.stderr)
        return 2
    try:
        adapter = get_adapter()
        adapter.require_services()
        deleted = prune_service_logs(argv[0], adapter)
    except PrefectWinError as error:
        print(json.dumps({"code": error.code, "message": error.message, "target": error.target}), file=sys.stderr)
        return 1
    for path in deleted:
        print(path)
    return 0
