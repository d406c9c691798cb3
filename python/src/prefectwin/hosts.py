"""Which addresses a server binds and which one a local client uses to reach it. Pure: the
checks, the setting planner and the service spec all decide with these."""
from __future__ import annotations

from typing import Optional

# Binding one of these listens on every interface; a client on this machine cannot connect to it.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def client_host(bind_host: Optional[str]) -> str:
    """The address a client on this machine uses for a server bound to `bind_host`."""
    return "127.0.0.1" if not bind_host or bind_host in WILDCARD_HOSTS else bind_host


def is_loopback(bind_host: Optional[str]) -> bool:
    """Whether a server bound to `bind_host` can be reached from this machine only. A wildcard,
    a LAN address or any host name but localhost is reachable from elsewhere."""
    import ipaddress

    host = (bind_host or "127.0.0.1").strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
