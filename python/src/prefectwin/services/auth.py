"""Prefect's basic auth for PrefectWin's services: who must have it, and where it comes from.

A server has basic auth when PREFECT_SERVER_API_AUTH_STRING is set (Prefect 3.1 and later; see
diagnosis/checks/server.py for the releases measured). Its clients send the same string as
PREFECT_API_AUTH_STRING. The rules here are pure:

- a server that listens on an address other than loopback needs -AuthCredential, unless the
  admin passes -AllowAnonymous (then `exposure_warning` says what that exposes);
- the server gets both strings: PREFECT_SERVER_API_AUTH_STRING, which the server enforces, and
  PREFECT_API_AUTH_STRING, so that the `prefect` CLI, the diagnosis and the health check run
  with the service's own settings can call its API;
- a worker gets PREFECT_API_AUTH_STRING from -AuthCredential; without it, a worker that uses the
  PrefectWin server of this computer (no -ApiUrl) gets that server's string, which is what an
  admin who installed both on one box expects. A worker with -ApiUrl needs -AuthCredential if
  its server requires auth (service.install checks that with one authenticated call).

Both strings are SecretStr and go into the spec's secret_environment only.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from pydantic import SecretStr

from prefectwin.errors import InvalidArgument, PermissionDenied
from prefectwin.hosts import is_loopback

SERVER_AUTH_KEY = "PREFECT_SERVER_API_AUTH_STRING"
CLIENT_AUTH_KEY = "PREFECT_API_AUTH_STRING"
AUTH_KEYS = (SERVER_AUTH_KEY, CLIENT_AUTH_KEY)
# A worker marker's authFrom when its string came from -AuthCredential; otherwise authFrom names
# the local server whose string it sends ('-' starts no service name, services/rotation.py).
GIVEN_AUTH = "-AuthCredential"
# What -Environment may not set, and the parameter that owns it instead.
RESERVED = {SERVER_AUTH_KEY: "-AuthCredential", CLIENT_AUTH_KEY: "-AuthCredential"}


def _bad(message: str, remediation: str, target: str = "AuthCredential") -> InvalidArgument:
    return InvalidArgument(message, target=target, remediation=remediation)


def auth_string(credential: Any) -> SecretStr:
    """USER:PASSWORD from a PSCredential, refused (never quoted) when HTTP basic auth cannot carry it."""
    user = credential.user_name or ""
    password = credential.password.get_secret_value()
    if not user:
        raise _bad("-AuthCredential has no user name.", "Give a user name and a password, e.g. -AuthCredential (Get-Credential admin).")
    if ":" in user:
        raise _bad("The user name of -AuthCredential contains ':', which HTTP basic auth uses to end the user name.", "Choose a user name without ':'.")
    if not password:
        raise _bad("-AuthCredential has an empty password.", "Give a password: anyone who knows the user name could call the API otherwise.")
    if any(ch in user + password for ch in "\x00\r\n"):
        raise _bad("-AuthCredential contains a NUL or line-break character, which an environment variable cannot hold.", "Choose a user name and password without control characters.")
    return SecretStr(f"{user}:{password}")


def server_auth(params: Any, bind: str, port: int) -> dict[str, SecretStr]:
    """The secret variables a server's auth gives it; refuses an open non-loopback server."""
    credential = getattr(params, "auth_credential", None)
    anonymous = bool(getattr(params, "allow_anonymous", False))
    if credential is not None and anonymous:
        raise _bad("-AuthCredential and -AllowAnonymous contradict each other.", "Give -AuthCredential (recommended) or -AllowAnonymous, not both.", "AllowAnonymous")
    if credential is not None:
        secret = auth_string(credential)
        return {SERVER_AUTH_KEY: secret, CLIENT_AUTH_KEY: secret}
    if not is_loopback(bind) and not anonymous:
        from prefectwin.services import nssm_rules

        nssm_rules.check([("BindAddress", bind, "host")])  # a host that is no host is that problem, not this one
        raise _bad(
            f"A server that listens on {bind} needs -AuthCredential: without it, anyone who can reach port {port} can create deployments whose code the workers run.",
            f"Add -AuthCredential (Get-Credential admin) to require Prefect's basic auth (workers installed on this computer get the same string), "
            f"or listen on 127.0.0.1 only, or add -AllowAnonymous to accept an open server.",
        )
    return {}


def worker_auth(params: Any, local_server_auth: Optional[SecretStr]) -> dict[str, SecretStr]:
    """The worker's PREFECT_API_AUTH_STRING: -AuthCredential, else its local server's string."""
    if getattr(params, "allow_anonymous", False):
        raise _bad("-AllowAnonymous applies to servers only.", "Omit -AllowAnonymous for -Role Worker.", "AllowAnonymous")
    credential = getattr(params, "auth_credential", None)
    if credential is not None:
        return {CLIENT_AUTH_KEY: auth_string(credential)}
    if local_server_auth is not None and not getattr(params, "api_url", None):
        return {CLIENT_AUTH_KEY: local_server_auth}
    return {}


def exposure_warning(spec: Any) -> Optional[str]:
    """What an anonymous server on a non-loopback address exposes, or None."""
    if spec.role != "Server" or is_loopback(spec.bind_address) or SERVER_AUTH_KEY in spec.secret_environment:
        return None
    return (
        f"Server {spec.name} will listen on {spec.bind_address} port {spec.port} without authentication (-AllowAnonymous): "
        "anyone who can reach that port can read and change everything on it, including creating deployments whose code "
        "the workers run under their service account. Prefer -AuthCredential, and scope the firewall rule to the workers' addresses."
    )


def service_secret(record: Any, key: str, adapter: Any) -> Optional[SecretStr]:
    """A secret variable of an installed service, where the service reads it, in Prefect's
    order: its NSSM environment, the .env of its working folder, then the secrets file
    PrefectWin wrote for it. None when none holds it. PermissionDenied (SecretsFileUnreadable)
    when the secrets file must be read and this session may not: that is not "no such secret"."""
    from prefectwin.diagnosis.service import _working_files, environment_entries, expand, lookup

    parameters = record.parameters
    env = environment_entries(tuple(parameters.get("AppEnvironmentExtra", ())))
    value = lookup(env, key)
    if not value:
        _, dotenv, _, _ = _working_files(expand((parameters.get("AppDirectory") or ("",))[0], env) or None)
        value = lookup(dotenv, key)
    if not value:
        value = lookup(secrets_file_values(record, adapter), key)
    return SecretStr(value) if value else None


class SecretsFileUnreadable(PermissionDenied):
    """The service's secrets file exists, but this session may not read it (it is restricted to
    the service's account, SYSTEM and Administrators): a session that is not elevated."""


def secrets_file_values(record: Any, adapter: Any) -> dict[str, str]:
    """What the secrets file the service reads (services.state.secrets_file_of) sets; nothing
    when there is none. SecretsFileUnreadable when this session may not read it."""
    from prefectwin.services.secrets_file import file_values
    from prefectwin.services.state import secrets_file_of

    path = secrets_file_of(record)
    if adapter is None or not path:
        return {}
    try:
        text = adapter.read_restricted_file(path)
    except (OSError, PermissionDenied) as exc:
        raise SecretsFileUnreadable(
            f"This session cannot read the secrets file '{path}' of service '{record.name}', so its credentials are not known.",
            target=path,
            remediation="Run PowerShell as administrator: the file is readable only by the service's account, SYSTEM and Administrators.",
        ) from exc
    return file_values(text.get_secret_value()) if text is not None else {}
