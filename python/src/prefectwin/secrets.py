"""Masking of credentials before anything is printed, logged or returned."""
from __future__ import annotations

import re

MASK = "********"

# scheme://user:password@host -> scheme://user:********@host. Works on SQLAlchemy URLs
# such as postgresql+asyncpg:// without parsing them, so odd characters cannot defeat it.
# The password runs to the LAST '@' of the authority (the one followed by a host and then
# '/', '?', '#', whitespace or the end): people type unencoded '@'s in passwords, and
# stopping at the first one would print the rest of the password as if it were the host.
_USERINFO_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<pw>\S*?)(?P<tail>@)(?=[^@/?#\s]*(?:[/?#\s]|$))"
)


def mask_url(url: str | None) -> str | None:
    if url is None:
        return None
    return _USERINFO_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('tail')}", url)


def scrub(text: str, *secrets: str | None) -> str:
    """Replace every literal occurrence of each known secret, then mask URL passwords."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return mask_url(text) or ""


# Names whose values are secret by their meaning, wherever they appear (a service's environment,
# a journal record). Prefect's own SecretStr fields are asked of the target where it matters.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|CREDENTIAL|AUTH_STRING|CONNECTION_URL|_KEY$", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))
