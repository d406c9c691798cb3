"""A configured API answers /api/health and /api/ready and accepts this client's credentials, is
not older than this client, and a server that others can reach requires authentication."""
from __future__ import annotations

from typing import Optional

from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
from prefectwin.diagnosis.checks.prefect import pip_install, release_pins, version_tuple
from prefectwin.diagnosis.facts import Facts, HealthFacts
from prefectwin.hosts import is_loopback

SERVER_AUTH_SETTING = "PREFECT_SERVER_API_AUTH_STRING"
# Basic auth (PREFECT_SERVER_API_AUTH_STRING on the server, PREFECT_API_AUTH_STRING on clients)
# came with Prefect 3.1. Measured with real servers: 3.1.15, 3.4.25 and 3.9.1 answer /api/health
# and /api/ready without credentials and GET /api/admin/version with 401 unless the client sends
# the string; 3.0.11 has no such setting. 3.1.15 is the oldest release measured, so it is the
# release a remediation names.
AUTH_RELEASE = (3, 1, 15)
AUTH_RELEASE_TEXT = "3.1.15"


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
    if health.access is not None:
        data.update(auth=health.auth, accessStatus=health.access.status)
    if health.health.ok and health.ready.ok:
        if health.access_refused:
            return fail(*_refused(health, facts), **data)
        return passed(f"The server at {health.api_url} is healthy and ready{_accepted(health)}.", **data)
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


def _accepted(health: HealthFacts) -> str:
    if health.access is None or not health.access.ok:
        return ""
    return {"basic": ", and accepts this client's PREFECT_API_AUTH_STRING", "bearer": ", and accepts this client's PREFECT_API_KEY", "url": ", and accepts the credentials in PREFECT_API_URL"}.get(
        health.auth, ""
    )


def _refused(health: HealthFacts, facts: Facts) -> tuple[str, str]:
    """The message and remediation of an authenticated call that the API refused."""
    status = health.access.status if health.access else None
    where = f"this {facts.role.lower()} service" if facts.service is not None else "this shell"
    if health.cloud:
        sent = "without an API key" if health.auth == "none" else "with a PREFECT_API_KEY it refuses"
        return (
            f"Prefect Cloud at {health.api_url} requires authentication (HTTP {status}), and the client ({where}) calls it {sent}.",
            "Set PREFECT_API_KEY to a valid API key of the workspace (prefect cloud login, or Set-PrefectSetting PREFECT_API_KEY).",
        )
    sent = {
        "none": "sends no credentials",
        "basic": "sends a PREFECT_API_AUTH_STRING that is not the server's",
        "bearer": "sends PREFECT_API_KEY, which a self-hosted server does not take",
        "url": "sends the user and password in PREFECT_API_URL, which are not the server's",
    }[health.auth]
    return (
        f"The server at {health.api_url} answers /api/health but requires authentication (HTTP {status} from /api/admin/version), and the client ({where}) {sent}.",
        "Set PREFECT_API_AUTH_STRING to the server's PREFECT_SERVER_API_AUTH_STRING (USER:PASSWORD)"
        + (", and unset PREFECT_API_KEY" if health.auth == "bearer" else "")
        + ("; for a service, Install-PrefectService -AuthCredential" if facts.service is not None else "; e.g. Set-PrefectSetting PREFECT_API_AUTH_STRING")
        + ".",
    )


@check("server.auth", "probe")
def server_auth(facts: Facts):
    """A server that listens where others can reach it must require Prefect's basic auth."""
    if facts.role != "Server":
        return skipped("Only a server listens for API calls; this is a worker.")
    prefect = facts.prefect
    if not prefect.installed or prefect.settings_error:
        return skipped("Prefect's settings could not be read; see prefect.installed and settings.*.")
    host = _listen_host(facts)
    entry = next((e for e in prefect.entries if e.name == SERVER_AUTH_SETTING), None)
    has_auth = entry is not None and entry.source != "defaults"
    data = dict(host=host, authRequired=has_auth, prefectVersion=prefect.version)
    if is_loopback(host):
        return passed(f"The server listens on {host}, reachable from this computer only" + (", and requires basic auth." if has_auth else "."), **data)
    upgrade = pip_install(facts.python.executable or "python", '"prefect>=' + AUTH_RELEASE_TEXT + ',<4"', *release_pins(AUTH_RELEASE_TEXT))
    if entry is None:
        return fail(
            f"The server listens on {host}, reachable from other computers, and Prefect {prefect.version} cannot require authentication (it has no {SERVER_AUTH_SETTING}): anyone who reaches it can create deployments whose code the workers run.",
            f"Upgrade Prefect to {AUTH_RELEASE_TEXT} or later ({upgrade}), then set {SERVER_AUTH_SETTING}; or listen on 127.0.0.1 only.",
            **data,
        )
    if not has_auth:
        return fail(
            f"The server listens on {host}, reachable from other computers, without {SERVER_AUTH_SETTING}: anyone who reaches it can create deployments whose code the workers run.",
            f"Set {SERVER_AUTH_SETTING} to USER:PASSWORD (for a service: Install-PrefectService -AuthCredential) and give its clients the same PREFECT_API_AUTH_STRING; or listen on 127.0.0.1 only.",
            **data,
        )
    release = version_tuple(prefect.version)
    if release is not None and release < AUTH_RELEASE:
        return warn(
            f"The server listens on {host} and sets {SERVER_AUTH_SETTING}, but Prefect {prefect.version} is older than {AUTH_RELEASE_TEXT}, the oldest release whose enforcement of it PrefectWin has verified.",
            f"Upgrade Prefect to {AUTH_RELEASE_TEXT} or later: {upgrade}",
            **data,
        )
    return passed(f"The server listens on {host} and requires basic auth ({SERVER_AUTH_SETTING} is set). Basic auth over plain HTTP stops casual access only: put TLS in front of it for more.", **data)


def _listen_host(facts: Facts) -> str:
    """Where the server will listen: a service's --host argument beats its settings."""
    if facts.service is not None:
        from prefectwin.diagnosis.service import option

        given = option(list(facts.service.arguments), "--host")
        if given:
            return given
    return facts.prefect.server_host or "127.0.0.1"


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
