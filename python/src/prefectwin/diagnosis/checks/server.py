"""A configured API answers /api/health and /api/ready."""
from __future__ import annotations

from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
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
