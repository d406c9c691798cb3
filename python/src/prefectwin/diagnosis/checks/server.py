"""A configured API answers /api/health and /api/ready, and is not older than this client."""
from __future__ import annotations

from typing import Optional

from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
from prefectwin.diagnosis.checks.prefect import pip_install, release_pins, version_tuple
from prefectwin.diagnosis.facts import Facts


@check("server.health", "probe", "health")
def server_health(facts: Facts):
    health = facts.health
    if health is None:
        if facts.prefect.api_url:
            return skipped("PREFECT_API_URL is not a URL a client could use; see settings.api-url.")
        return skipped("PREFECT_API_URL is not set, so there is no server to ask.")
    data = dict(
        apiUrl=health.api_url,
        health=health.health.status,
        ready=health.ready.status,
        healthError=health.health.error,
        readyError=health.ready.error,
    )
    if health.health.ok and health.ready.ok:
        return passed(f"The server at {health.api_url} is healthy and ready.", **data)
    if health.health.ok:
        return fail(
            f"The server at {health.api_url} is up but not ready ({health.ready.error or health.ready.status}); its database is usually the cause.",
            "Run the 'database' check against the server's settings, and read the server log.",
            **data,
        )
    message = f"The server at {health.api_url} does not answer: {health.health.error or health.health.status}."
    if facts.role == "Server":
        return warn(message, "Start the server (Start-Service, or Install-PrefectService -Start) if it should be running.", **data)
    return fail(message, "Check that the server is running and that PREFECT_API_URL points at it.", **data)


def version_skew(client: Optional[str], server: Optional[str]) -> Optional[str]:
    """'newer' when this interpreter's Prefect is newer than the server's, 'major' when their
    major versions differ (Prefect's client refuses that), else None. Unknown versions: None."""
    ours, theirs = version_tuple(client), version_tuple(server)
    if ours is None or theirs is None:
        return None
    if ours[0] != theirs[0]:
        return "major"
    return "newer" if ours > theirs else None


@check("server.version", "probe", "health")
def server_version(facts: Facts):
    health, client = facts.health, facts.prefect.version
    if health is None:
        return skipped("PREFECT_API_URL is not set, so there is no server to ask.")
    server = health.server_version
    if server is None or client is None:
        why = (health.version.error or health.version.status) if health.version else "not asked"
        return skipped(f"The server's version at {health.api_url} is not known ({why}).")
    data = dict(apiUrl=health.api_url, clientVersion=client, serverVersion=server)
    who = "this worker's" if facts.role == "Worker" else "this interpreter's"
    skew = version_skew(client, server)
    same_as_server = pip_install(facts.python.executable or "python", f'"prefect=={server}"', *release_pins(server))
    if skew == "major":
        return fail(
            f"Prefect {client} ({who}) and the server's Prefect {server} at {health.api_url} differ in their major version; Prefect refuses to talk across it.",
            f"Install the server's release here: {same_as_server}",
            **data,
        )
    if skew == "newer":
        return warn(
            f"Prefect {client} ({who}) is newer than the server's Prefect {server} at {health.api_url}; a client newer than its server may send what the server does not understand.",
            f"Upgrade the server to {client} or later, or install {server} here: {same_as_server}",
            **data,
        )
    return passed(f"Prefect {client} here and {server} on the server at {health.api_url} are compatible.", **data)
