"""What `Get-PrefectService` shows about a managed service, and whether it is healthy.

Only HTTP and the file system: the number of processes started does not grow with the
number of services. A server is healthy when /api/health and /api/ready answer and the API
accepts the service's own credentials (PREFECT_API_AUTH_STRING or PREFECT_API_KEY, from its
environment or the .env of its working folder) on GET /api/admin/version, which, unlike the
other two, Prefect protects; a worker when the server's API, asked with the worker's
credentials, lists it in its pool as ONLINE with a heartbeat newer than the worker's process.
"""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Literal, Optional

from prefectwin.diagnosis.network import health_facts
from prefectwin.errors import NotFound, OperationTimeout
from prefectwin.events import Events
from prefectwin.models import Result
from prefectwin.secrets import mask_url
from prefectwin.services.state import ServiceRecord

Health = Literal["Healthy", "Unhealthy", "Stopped", "Unknown"]
HTTP_TIMEOUT_SEC = 3.0
POLL_INTERVAL_SEC = 1.0
WAIT_ACTIVITY = "Waiting for Prefect services to become healthy"
START_TYPES = {
    "SERVICE_AUTO_START": "Automatic",
    "SERVICE_DELAYED_AUTO_START": "AutomaticDelayed",
    "SERVICE_DEMAND_START": "Manual",
    "SERVICE_DISABLED": "Disabled",
}


class ServiceInfo(Result):
    """PSTypeName PrefectWin.ServiceInfo."""

    name: str
    role: Optional[str] = None
    status: str
    start_type: Optional[str] = None
    account: Optional[str] = None
    pid: Optional[int] = None
    port: Optional[int] = None
    api_url: Optional[str] = None
    pool: Optional[str] = None
    worker_name: Optional[str] = None
    prefect_home: Optional[str] = None
    log_paths: list[str] = []
    version: Optional[str] = None
    health: Health = "Unknown"
    health_detail: Optional[str] = None
    last_heartbeat: Optional[str] = None
    restart_count: Optional[int] = None
    last_exit_code: Optional[int] = None
    last_start_time: Optional[str] = None


def post_json(url: str, body: Any, timeout: float = HTTP_TIMEOUT_SEC, authorization: Optional[str] = None) -> Any:
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json", "Accept": "application/json"})
    if authorization:
        # Unredirected, as diagnosis.network.http_get sends it: never copied to a redirect's target.
        request.add_unredirected_header("Authorization", authorization)
    # Like diagnosis.network.http_get: the API is local or on the LAN, never through a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8") or "null")


def _parse_time(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def client_auth(record: ServiceRecord, adapter: Any = None) -> tuple[Optional[str], Optional[str]]:
    """The credentials the service's own Prefect client sends, from where the service reads them.
    SecretsFileUnreadable when neither is found elsewhere and the secrets file, which may hold
    them, cannot be read by this session: the caller must not check as if there were none."""
    from prefectwin.services.auth import CLIENT_AUTH_KEY, SecretsFileUnreadable, service_secret

    found, denied = [], None
    for key in (CLIENT_AUTH_KEY, "PREFECT_API_KEY"):
        try:
            found.append(service_secret(record, key, adapter))
        except SecretsFileUnreadable as exc:
            found.append(None)
            denied = exc
    if denied is not None and not any(found):
        raise denied
    return tuple(v.get_secret_value() if v is not None else None for v in found)  # type: ignore[return-value]


def unreadable_detail(denied: Any) -> str:
    """Health's detail when the service's credentials are in a file this session cannot read."""
    return (
        f"not checked: this session cannot read the secrets file '{denied.target}', which holds the service's credentials; "
        "run PowerShell as administrator to check its health"
    )


def _refusal(status: Optional[int], kind: str) -> str:
    sent = {
        "none": "sends no credentials (no PREFECT_API_AUTH_STRING in the service's environment, .env or secrets file)",
        "basic": "refuses the service's PREFECT_API_AUTH_STRING",
        "bearer": "refuses the service's PREFECT_API_KEY",
        "url": "refuses the credentials in the service's API URL",
    }.get(kind, "refuses the service's credentials")
    if kind == "none":
        return f"the API requires authentication (HTTP {status}) and the service {sent}"
    return f"the API {sent} (HTTP {status}): authentication failed"


def server_health(api_url: str, auth_string: Optional[str] = None, api_key: Optional[str] = None) -> tuple[Health, str]:
    """/health and /ready, then the one call that proves the service's credentials work."""
    facts = health_facts(api_url, timeout=HTTP_TIMEOUT_SEC, auth_string=auth_string, api_key=api_key)
    shown = mask_url(api_url)
    if facts is None:
        return "Unknown", f"{shown} is not a URL a client could use"
    if facts.health.ok and facts.ready.ok:
        if facts.access_refused:
            return "Unhealthy", f"{shown}: /health and /ready answer, but {_refusal(facts.access.status, facts.auth)}"
        if facts.auth != "none" and facts.access is not None and facts.access.ok:
            return "Healthy", f"{shown}: /health and /ready answer, and an authenticated call succeeds"
        return "Healthy", f"{shown}: /health and /ready answer"
    if facts.health.ok:
        return "Unhealthy", f"{shown}: up but not ready ({facts.ready.error or facts.ready.status})"
    return "Unhealthy", f"{shown}: {facts.health.error or facts.health.status}"


def worker_health(
    api_url: str,
    pool: str,
    worker_name: str,
    started_at: Optional[float],
    auth_string: Optional[str] = None,
    api_key: Optional[str] = None,
    refused_because: Optional[Callable[[], Optional[str]]] = None,
) -> tuple[Health, str, Optional[str]]:
    """The worker's heartbeat in its pool, asked with the worker's own credentials.
    refused_because: what to say about a refusal, when more is known than the HTTP status."""
    from prefectwin.diagnosis.network import client_authorization

    url = f"{api_url.rstrip('/')}/work_pools/{urllib.parse.quote(pool, safe='')}/workers/filter"
    authorization, kind, _ = client_authorization(api_url, auth_string=auth_string, api_key=api_key)
    try:
        workers = post_json(url, {}, authorization=authorization)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            known = refused_because() if refused_because is not None else None
            return "Unhealthy", f"{mask_url(url)}: {_refusal(exc.code, kind)}" + (f"; {known}" if known else ""), None
        return "Unhealthy", f"{mask_url(url)}: HTTP {exc.code} {exc.reason}", None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return "Unhealthy", f"{mask_url(url)}: {getattr(exc, 'reason', exc)}", None
    mine = next((w for w in workers or [] if w.get("name") == worker_name), None)
    if mine is None:
        return "Unhealthy", f"worker '{worker_name}' has not sent a heartbeat to pool '{pool}'", None
    beat = mine.get("last_heartbeat_time")
    status = mine.get("status")
    beat_at = _parse_time(beat)
    if status != "ONLINE":
        return "Unhealthy", f"worker '{worker_name}' is {status} in pool '{pool}' (last heartbeat {beat})", beat
    if started_at is not None and beat_at is not None and beat_at < started_at:
        return "Unhealthy", f"worker '{worker_name}' has not sent a heartbeat since it started (last {beat})", beat
    return "Healthy", f"worker '{worker_name}' is ONLINE in pool '{pool}'", beat


def prefect_version(python: Optional[str]) -> Optional[str]:
    """Prefect's version in an interpreter, read from its site-packages without running it."""
    if not python:
        return None
    bindir = os.path.dirname(python)
    patterns = [
        os.path.join(bindir, "Lib", "site-packages"),
        os.path.join(bindir, "..", "Lib", "site-packages"),
        os.path.join(bindir, "..", "lib", "python3*", "site-packages"),
    ]
    for pattern in patterns:
        for info in glob.glob(os.path.join(pattern, "prefect-*.dist-info")):
            version = os.path.basename(info)[len("prefect-") : -len(".dist-info")]
            if version and version[0].isdigit():
                return version
    return None


def _first(record: ServiceRecord, parameter: str) -> Optional[str]:
    values = record.parameters.get(parameter)
    return values[0] if values else None


def read_events(adapter: Any) -> Optional[list[dict[str, Any]]]:
    """NSSM's events of the last day, for every service at once (one query, however many
    services); None when the Application log cannot be read."""
    from prefectwin.services import crashes

    reader = getattr(adapter, "read_service_events", None) if adapter is not None else None
    if reader is None:
        return None
    try:
        return reader(None, time.time() - crashes.COUNT_WINDOW_SEC, 5000)
    except Exception:  # noqa: BLE001 - a log that cannot be read leaves the facts unknown, not the service
        return None


def crash_facts_of(record: ServiceRecord, events: Optional[list[dict[str, Any]]]) -> Optional[Any]:
    """NSSM's exits and starts of the service's application, from the Application log."""
    from prefectwin.services import crashes

    if events is None:
        return None
    mine = [e for e in events if record.name.lower() in (str(s).lower() for s in e.get("strings", ()))]
    return crashes.crash_facts(mine, record.name, now=time.time())


def describe(record: ServiceRecord, *, check_health: bool = True, adapter: Any = None, events: Optional[list[dict[str, Any]]] = None) -> ServiceInfo:
    from prefectwin.services import crashes
    from prefectwin.services.logfiles import stderr_tail

    marker = record.managed or {}
    role = marker.get("role")
    info = ServiceInfo(
        name=record.name,
        role=role,
        status=record.status,
        start_type=START_TYPES.get(_first(record, "Start") or "", _first(record, "Start")),
        account=_first(record, "ObjectName") or "LocalSystem",
        pid=record.app_pids[0] if record.app_pids else record.pid,
        port=marker.get("port"),
        api_url=marker.get("apiUrl"),
        pool=marker.get("pool"),
        worker_name=marker.get("workerName"),
        prefect_home=marker.get("prefectHome"),
        log_paths=list(marker.get("logPaths") or []),
        version=prefect_version(_first(record, "Application")),
    )
    facts = crash_facts_of(record, events if events is not None or adapter is None else read_events(adapter))
    if facts is not None:
        started = facts.last_start if facts.last_start is not None else record.started_at
        info = info.model_copy(update={"restart_count": facts.restart_count, "last_exit_code": facts.last_exit_code, "last_start_time": crashes.iso(started)})
    elif record.started_at is not None:
        info = info.model_copy(update={"last_start_time": crashes.iso(record.started_at)})
    if not check_health:
        return info
    if not record.running:
        return info.model_copy(update={"health": "Stopped", "health_detail": f"the service is {record.status}"})
    # The service's own answer first: one that answers now is healthy, whatever it went through
    # (a fixed service must pass a restart's or upgrade's gate at once). Only one that does not
    # answer is called a crash loop, with the tail of its stderr.
    from prefectwin.services.auth import SecretsFileUnreadable

    health, detail, beat = None, None, None
    try:
        if role == "Server" and info.api_url:
            health, detail = server_health(info.api_url, *client_auth(record, adapter))
        elif role == "Worker" and info.api_url and info.pool and info.worker_name:
            sends = client_auth(record, adapter)
            health, detail, beat = worker_health(
                info.api_url, info.pool, info.worker_name, record.started_at, *sends, refused_because=lambda: stale_auth(record, sends[0], adapter)
            )
    except SecretsFileUnreadable as denied:
        # Asked without them, the API's 401 would read as "the service has no credentials".
        health, detail = "Unknown", unreadable_detail(denied)
    if health != "Healthy" and facts is not None and facts.looping:
        from prefectwin.secrets import mask_url, scrub

        paths = info.log_paths or [_first(record, "AppStdout"), _first(record, "AppStderr")]
        tail = stderr_tail(paths[1] if len(paths) > 1 else None)
        # A traceback may quote a connection URL or a secret of the service's environment.
        tail = scrub(mask_url(tail), *secret_values(record, adapter)) if tail else tail
        return info.model_copy(update={"health": "Unhealthy", "health_detail": crashes.loop_message(facts, tail), "last_heartbeat": beat})
    if health is not None:
        return info.model_copy(update={"health": health, "health_detail": detail, "last_heartbeat": beat})
    return info.model_copy(update={"health_detail": "the PrefectWin marker does not say how to check this service"})


def stale_auth(worker: ServiceRecord, sends: Optional[str], adapter: Any) -> Optional[str]:
    """Why a refused worker is refused, when it follows a PrefectWin server of this computer
    (its marker's authFrom, or that server's API URL) whose auth string is not the one it sends."""
    import hmac

    from prefectwin.services.auth import SERVER_AUTH_KEY, service_secret
    from prefectwin.services.rotation import stale_auth_message

    if adapter is None:
        return None
    marker = worker.managed or {}
    url = (marker.get("apiUrl") or "").rstrip("/").lower()
    try:
        servers = [r for r in adapter.read_managed_services(None) if (r.managed or {}).get("role") == "Server"]
        server = next(
            (r for r in servers if r.name.lower() == str(marker.get("authFrom") or "").lower()),
            next((r for r in servers if (r.managed.get("apiUrl") or "").rstrip("/").lower() == url), None),
        )
        required = service_secret(server, SERVER_AUTH_KEY, adapter) if server is not None else None
    except Exception:  # noqa: BLE001 - the refusal stands on its own; this only explains it
        return None
    if server is None or required is None or (sends and hmac.compare_digest(sends.encode(), required.get_secret_value().encode())):
        return None
    return stale_auth_message(worker.name, server.name, marker.get("pool"), bool(sends))


def secret_values(record: ServiceRecord, adapter: Any = None) -> tuple[str, ...]:
    """The service's secrets, to scrub from its log, a crash tail or any message about it: the
    values of its environment whose names look secret, what its secrets file holds (as far as
    this session may read it), and a connection URL's password on its own."""
    from prefectwin.secrets import _USERINFO_PASSWORD, looks_secret
    from prefectwin.services.auth import secrets_file_values

    found: list[str] = []
    for entry in record.parameters.get("AppEnvironmentExtra") or ():
        name, _, value = str(entry).partition("=")
        if value and looks_secret(name):
            found.append(value)
    try:
        if adapter is None:
            from prefectwin.system import get_adapter

            adapter = get_adapter()
        found += [v for v in secrets_file_values(record, adapter).values() if v]
    except Exception:  # noqa: BLE001 - scrubbing what can be read; URL passwords are masked anyway
        pass
    # A connection URL's password, as a traceback or a driver's message may quote it on its own.
    passwords = [m.group("pw") for value in found for m in _USERINFO_PASSWORD.finditer(value)]
    passwords += [urllib.parse.unquote(p) for p in passwords]
    # Longest first, so that a value containing another is replaced whole.
    return tuple(sorted(set(v for v in found + passwords if v), key=len, reverse=True))


def describe_all(records: list[ServiceRecord], *, check_health: bool = True, adapter: Any = None) -> list[ServiceInfo]:
    """Describe every record; health checks run concurrently, in threads, not processes."""
    events = read_events(adapter) if records else None
    # Only when there are events, so a describe() replaced by a test need not know the keyword.
    extra: dict[str, Any] = {} if events is None else {"events": events}
    if adapter is not None:
        extra["adapter"] = adapter  # the service's credentials may be in its secrets file
    if len(records) <= 1:
        return [describe(r, check_health=check_health, **extra) for r in records]
    with ThreadPoolExecutor(max_workers=min(8, len(records)), thread_name_prefix="prefectwin-health") as pool:
        return list(pool.map(lambda r: describe(r, check_health=check_health, **extra), records))


def wait_until_healthy(names: list[str], timeout_sec: float, adapter: Any, events: Events, poll_sec: float = POLL_INTERVAL_SEC) -> list[ServiceInfo]:
    """Poll until every named service is Healthy; a progress event on every poll."""
    started = time.monotonic()
    deadline = started + timeout_sec
    while True:
        records = adapter.read_managed_services(names)
        gone = [n for n in names if n.lower() not in {r.name.lower() for r in records}]
        if gone:
            raise NotFound(f"Service {', '.join(repr(n) for n in gone)} not found.", target=", ".join(gone))
        infos = describe_all(records, adapter=adapter)
        elapsed = time.monotonic() - started
        pending = [i for i in infos if i.health != "Healthy"]
        status = "; ".join(f"{i.name}: {i.health}" + (f" ({i.health_detail})" if i.health != "Healthy" and i.health_detail else "") for i in infos)
        if not pending:
            events.progress(WAIT_ACTIVITY, status, 100)
            return infos
        events.progress(WAIT_ACTIVITY, f"{int(elapsed)} s of {int(timeout_sec)} s: {status}", min(99, int(100 * elapsed / timeout_sec)))
        if time.monotonic() >= deadline:
            raise OperationTimeout(
                f"Not healthy after {int(timeout_sec)} s: " + "; ".join(f"{i.name}: {i.health_detail or i.health}" for i in pending) + ".",
                target=", ".join(i.name for i in pending),
                remediation="Read the service's log files (LogPaths in Get-PrefectService) and the Windows Application event log (source nssm).",
            )
        time.sleep(max(0.0, min(poll_sec, deadline - time.monotonic())))
