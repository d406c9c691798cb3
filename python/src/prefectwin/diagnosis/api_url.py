"""PREFECT_API_URL read the way a client would use it, without ever raising.

The setting is free text: `garbage`, a port that is not a number, a trailing newline from a
copied line, or a user and password in the authority. Each is a diagnosis (settings.api-url
says what is wrong), never a crash, and a URL that no client could use is not asked for its
health. A password in the URL is masked wherever the URL is shown.
"""
from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass
from typing import Optional

from prefectwin.secrets import mask_url


@dataclass(frozen=True)
class ApiUrl:
    text: str
    #: what may be shown: password masked, control characters escaped
    shown: str
    problem: Optional[str] = None
    scheme: str = ""
    host: str = ""
    port: int = 0
    path: str = ""
    has_userinfo: bool = False
    #: the URL to send requests to: without user info, which HTTP carries in a header instead
    request_url: str = ""
    #: the Authorization header a client builds from the URL's user info, if any
    authorization: Optional[str] = None


def _shown(text: str) -> str:
    masked = mask_url(text) or ""
    return masked if masked.isprintable() else masked.encode("unicode_escape").decode("ascii")


def parse_api_url(text: str) -> ApiUrl:
    shown = _shown(text)
    if any(not char.isprintable() or char.isspace() for char in text):
        return ApiUrl(text, shown, "it contains whitespace or a control character (a line break copied along?)")
    bad_port = "it has an invalid port (a number from 1 to 65535)"
    try:
        parts = urllib.parse.urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        return ApiUrl(text, shown, "its host cannot be read (an unclosed '['?)")
    try:
        port = parts.port
    except ValueError:
        return ApiUrl(text, shown, bad_port)
    if parts.scheme not in ("http", "https"):
        return ApiUrl(text, shown, "it is not an http:// or https:// URL")
    if not host:
        return ApiUrl(text, shown, "it names no host")
    if port == 0:
        return ApiUrl(text, shown, bad_port)
    has_userinfo = "@" in parts.netloc
    authorization = None
    hostport = parts.netloc.rpartition("@")[2]
    if has_userinfo:
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    request_url = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
    return ApiUrl(
        text,
        shown,
        None,
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        path=parts.path,
        has_userinfo=has_userinfo,
        request_url=request_url,
        authorization=authorization,
    )
