"""The server port: free, or who holds it."""
from __future__ import annotations

from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
from prefectwin.diagnosis.facts import Facts, Listener


def is_prefect_server(listener: Listener) -> bool:
    args = [a.lower() for a in listener.cmdline]
    joined = " ".join(args)
    return ("prefect" in joined and "server" in args and "start" in args) or "prefect.server" in joined


@check("port.available", "port")
def port_available(facts: Facts):
    if facts.role == "Worker":
        return skipped("Workers do not listen on the API port.")
    port = facts.port
    if port is None:
        return skipped("The server port is not known.")
    if port.bindable:
        return passed(f"Port {port.port} is free on {port.host}.", host=port.host, port=port.port)
    owners = [
        {"pid": o.pid, "processName": o.process_name, "address": o.address, "isPrefectServer": is_prefect_server(o)}
        for o in port.owners
    ]
    alternative = f" or use -Port {port.next_free}" if port.next_free else ""
    data = dict(host=port.host, port=port.port, owners=owners, nextFreePort=port.next_free, error=port.bind_error)
    if not owners:
        return fail(
            f"Port {port.port} on {port.host} cannot be bound ({port.bind_error}); the owning process is not visible to this account.",
            f"Run elevated to see the owner{alternative}.",
            **data,
        )
    described = ", ".join(
        f"PID {o['pid']} ({o['processName'] or 'unknown'}{', a Prefect server' if o['isPrefectServer'] else ''})" for o in owners
    )
    first = owners[0]
    service = facts.service
    if service is not None and service.pids and all(o["pid"] in service.pids for o in owners):
        return passed(f"Port {port.port} is held by service {service.name} itself ({described}).", **data)
    if all(o["isPrefectServer"] for o in owners):
        return warn(
            f"Port {port.port} is held by {described}: a Prefect server is already running there.",
            f"If that is your PrefectWin service this is expected; otherwise stop PID {first['pid']}{alternative}.",
            **data,
        )
    return fail(f"Port {port.port} is in use by {described}.", f"Stop PID {first['pid']}{alternative}.", **data)
