"""Ports and HTTP: real sockets, real listeners."""
from __future__ import annotations

import errno
import socket
import urllib.error
import urllib.request
from typing import Optional

from prefectwin.diagnosis.facts import HealthFacts, HttpProbe, Listener, PortFacts

NEXT_FREE_SEARCH = 100


def can_bind(host: str, port: int) -> Optional[str]:
    """None when host:port could be bound now; otherwise the reason."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # No SO_REUSEADDR: a server would also fail where this fails. On Windows, exclusive use
        # stops another process's wildcard listener from hiding behind our probe bind.
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1), 10013):
                return "in use"
            return exc.strerror or str(exc)
    return None


def listeners(port: int) -> tuple[Listener, ...]:
    """Every process listening on a TCP port, with its name and command line where visible."""
    import psutil

    found = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port != port:
            continue
        name, cmdline = None, ()
        if conn.pid:
            try:
                proc = psutil.Process(conn.pid)
                name, cmdline = proc.name(), tuple(proc.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        found.append(Listener(address=conn.laddr.ip, port=port, pid=conn.pid, process_name=name, cmdline=cmdline))
    return tuple(found)


def port_facts(host: str, port: int) -> PortFacts:
    reason = can_bind(host, port)
    if reason is None:
        return PortFacts(host=host, port=port, bindable=True)
    next_free = next(
        (p for p in range(port + 1, min(port + NEXT_FREE_SEARCH, 65535) + 1) if can_bind(host, p) is None),
        None,
    )
    return PortFacts(host=host, port=port, bindable=False, bind_error=reason, owners=listeners(port), next_free=next_free)


def http_get(url: str, timeout: float, authorization: Optional[str] = None, shown: Optional[str] = None) -> HttpProbe:
    """GET `url`; `shown` is how the URL may appear in the facts (its password masked)."""
    import http.client

    shown = shown or url
    try:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
    except ValueError as exc:
        return HttpProbe(url=shown, ok=False, error=f"not a usable URL ({type(exc).__name__})")
    if authorization:
        # Unredirected: urllib would copy a normal header to wherever a redirect points,
        # another host or plain http included.
        request.add_unredirected_header("Authorization", authorization)
    # The API is local or on the LAN: a corporate proxy from the environment must not intercept it.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(4096).decode("utf-8", "replace")
            return HttpProbe(url=shown, status=response.status, ok=200 <= response.status < 300, body=body)
    except urllib.error.HTTPError as exc:
        return HttpProbe(url=shown, status=exc.code, ok=False, error=f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return HttpProbe(url=shown, ok=False, error=str(reason))
    except (ValueError, http.client.HTTPException) as exc:
        # http.client refuses what urllib let through (a bad port, a control character).
        return HttpProbe(url=shown, ok=False, error=f"not a usable URL ({type(exc).__name__})")


CLOUD_API_URL = "https://api.prefect.cloud/api"


def client_authorization(
    api_url: str,
    *,
    auth_string: Optional[str] = None,
    api_key: Optional[str] = None,
    cloud_api_url: Optional[str] = None,
    url_authorization: Optional[str] = None,
) -> tuple[Optional[str], str, bool]:
    """(the Authorization header a Prefect client sends, what it is, whether the API is Cloud).

    Prefect Cloud takes the API key as a Bearer token. A self-hosted server takes basic auth of
    PREFECT_API_AUTH_STRING; a client with only an API key sends that (a proxy may accept it),
    and with neither, the user info of the URL, if any. (When both are set, 3.4.25 and later
    send the auth string as this does; 3.1.15 sends the key.)"""
    import base64

    cloud = api_url.startswith((cloud_api_url or CLOUD_API_URL).rstrip("/"))
    if cloud:
        return (f"Bearer {api_key}", "bearer", True) if api_key else (None, "none", True)
    if auth_string:
        return "Basic " + base64.b64encode(auth_string.encode("utf-8")).decode("ascii"), "basic", False
    if api_key:
        return f"Bearer {api_key}", "bearer", False
    if url_authorization:
        return url_authorization, "url", False
    return None, "none", False


def health_facts(
    api_url: str,
    timeout: float = 3.0,
    *,
    auth_string: Optional[str] = None,
    api_key: Optional[str] = None,
    cloud_api_url: Optional[str] = None,
) -> Optional[HealthFacts]:
    """/health and /ready of the API, and one call with the client's credentials (see
    HealthFacts.access); None when the URL is not one a client could use (settings.api-url
    reports why). The credentials travel only in the request's Authorization header."""
    from prefectwin.diagnosis.api_url import parse_api_url

    parsed = parse_api_url(api_url)
    if parsed.problem:
        return None
    base, shown = parsed.request_url.rstrip("/"), parsed.shown.rstrip("/")
    authorization, kind, cloud = client_authorization(
        parsed.request_url, auth_string=auth_string, api_key=api_key, cloud_api_url=cloud_api_url, url_authorization=parsed.authorization
    )
    version = http_get(f"{base}/admin/version", timeout, authorization, f"{shown}/admin/version")
    if cloud:
        root = (cloud_api_url or CLOUD_API_URL).rstrip("/")
        access = http_get(f"{root}/me/workspaces", timeout, authorization, f"{root}/me/workspaces")
    else:
        access = version
    return HealthFacts(
        api_url=parsed.shown,
        health=http_get(f"{base}/health", timeout, parsed.authorization, f"{shown}/health"),
        ready=http_get(f"{base}/ready", timeout, parsed.authorization, f"{shown}/ready"),
        version=version,
        access=access,
        auth=kind,
        cloud=cloud,
    )
