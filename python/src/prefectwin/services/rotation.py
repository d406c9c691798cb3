"""Carrying a server's new auth string to the workers of this computer that send its old one. Pure.

A worker installed against the PrefectWin server of its computer (no -ApiUrl, no -AuthCredential)
sends that server's auth string, from its own secrets file (its marker says `authFrom`: the
server's name). When an install changes the server's auth (a rotation, auth added or removed),
the same plan rewrites each such worker's secrets file and restarts it after the server, so that
no worker is left sending a string the server refuses. A worker that a marker from before
`authFrom` does not place is taken as following when it uses the server's API URL and sends
exactly the server's old string.

Every other worker is left alone and named in a warning: one with its own -AuthCredential, one
that talks to another URL, and the workers of other computers, which nothing here can see.
"""
from __future__ import annotations

import hmac
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, SecretStr

from prefectwin.change.model import Action
from prefectwin.hosts import is_loopback
from prefectwin.services.auth import CLIENT_AUTH_KEY, SERVER_AUTH_KEY
from prefectwin.services.spec import render_secrets_text


class LocalWorker(BaseModel):
    """A PrefectWin worker of this computer, as far as a rotation of a server's auth needs it."""

    model_config = ConfigDict(frozen=True)

    name: str
    running: bool = False
    api_url: Optional[str] = None
    pool: Optional[str] = None
    # The marker's authFrom: a server's name, auth.GIVEN_AUTH, or None (no auth, or a marker from before).
    auth_from: Optional[str] = None
    # The secrets file it reads, what that holds (None: unreadable, or no file), and its text.
    secrets_file: Optional[str] = None
    values: Optional[dict[str, SecretStr]] = None
    # The secret variables its launcher sets (the file's other table): a rewrite keeps them.
    variables: dict[str, SecretStr] = {}
    content: Optional[SecretStr] = None
    unreadable: bool = False
    # The auth string it sends, wherever it reads it from.
    sends: Optional[SecretStr] = None
    reader: str = "NT AUTHORITY\\SYSTEM"
    stop_timeout_sec: int = 45


def _same(a: Optional[SecretStr], b: Optional[SecretStr]) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return hmac.compare_digest(a.get_secret_value().encode(), b.get_secret_value().encode())


def _url(value: Optional[str]) -> str:
    return (value or "").rstrip("/").lower()


def follows(worker: LocalWorker, server: str, urls: tuple[str, ...], old: Optional[SecretStr]) -> bool:
    """Whether the worker takes its auth string from `server`."""
    if worker.auth_from is not None:
        return worker.auth_from.lower() == server.lower()
    return old is not None and _url(worker.api_url) in urls and _same(worker.sends, old)


def plan_rotation(
    spec: Any,
    *,
    old_auth: Optional[SecretStr],
    old_known: bool,
    old_bind: Optional[str],
    old_api_url: Optional[str],
    workers: list[LocalWorker],
    server_actions: list[Action],
) -> tuple[list[Action], list[str]]:
    """(the actions that follow the server's, numbered after them; the warnings).

    spec: the server's new ServiceSpec; old_auth: the string it requires now (old_known False
    when its secrets file could not be read); server_actions: the server's own plan."""
    new = spec.secret_environment.get(SERVER_AUTH_KEY)
    changed = not old_known or not _same(old_auth, new)
    urls = tuple(dict.fromkeys(u for u in (_url(spec.api_url), _url(old_api_url)) if u))
    # The worker's file is rewritten only once the server's is, and restarted after the server.
    server_file = [a.id for a in server_actions if a.kind in ("write-secrets-file", "remove-secrets-file")]
    server_start = [a.id for a in server_actions if a.kind in ("restart-service", "start-service")]
    actions: list[Action] = []
    warnings: list[str] = []
    own, elsewhere = [], []
    for worker in workers:
        if follows(worker, spec.name, urls, old_auth if old_known else None):
            warning = _follow(spec, worker, new, server_file, server_start, actions, start=len(server_actions) + 1)
            if warning:
                warnings.append(warning)
        elif changed and _url(worker.api_url) in urls:
            own.append(worker)
        elif changed:
            elsewhere.append(worker)
    if not changed:
        return actions, warnings
    if not old_known:
        warnings.append(
            f"This session cannot read the secrets file of server '{spec.name}', so it cannot tell whether its auth changes or which workers send its "
            "old string; run PowerShell as administrator to see the whole plan."
        )
    for worker in own:
        warnings.append(_own_warning(spec, worker, new))
    if elsewhere:
        shown = ", ".join(f"'{w.name}' ({w.api_url or 'no API URL'})" for w in elsewhere)
        warnings.append(
            f"Worker{'s' if len(elsewhere) > 1 else ''} {shown} of this computer use{'' if len(elsewhere) > 1 else 's'} another API URL than server "
            f"'{spec.name}' ({spec.api_url}), so PrefectWin leaves {'their' if len(elsewhere) > 1 else 'its'} credentials as they are; if that URL reaches "
            "this server, install the worker again with -AuthCredential and the server's new credential."
        )
    if not (is_loopback(spec.bind_address) and is_loopback(old_bind or spec.bind_address)):
        if new is not None:
            warnings.append(
                f"Workers on other computers that use server '{spec.name}' are not seen from here and keep sending its old auth string, which the server "
                "then refuses (HTTP 401): install each of them again with Install-PrefectService -Role Worker -ApiUrl ... -AuthCredential and the new credential."
            )
        else:
            warnings.append(
                f"Server '{spec.name}' will no longer require authentication. Workers on other computers that send its old auth string keep working (a server "
                "without auth ignores it) but still hold it: install them again without -AuthCredential to remove it."
            )
    return actions, warnings


def _follow(spec: Any, worker: LocalWorker, new: Optional[SecretStr], server_file: list[str], server_start: list[str], actions: list[Action], start: int) -> Optional[str]:
    """Append the follower's rewrite and restart when its file does not hold `new` yet; or say why not."""
    if worker.unreadable:
        return (
            f"This session cannot read the secrets file '{worker.secrets_file}' of worker '{worker.name}', which sends the auth string of server "
            f"'{spec.name}': run PowerShell as administrator to see its rewrite in the plan."
        )
    if worker.values is None:
        if _same(worker.sends, new):
            return None
        return (
            f"Worker '{worker.name}' sends the auth string of server '{spec.name}' from somewhere other than a PrefectWin secrets file, so this plan "
            f"cannot carry the new one to it: install it again (Install-PrefectService -Name {worker.name} -Role Worker -Pool {worker.pool or '<pool>'})."
        )
    current = worker.values.get(CLIENT_AUTH_KEY)
    if _same(current, new):
        return None
    values = {k: v.get_secret_value() for k, v in worker.values.items() if k != CLIENT_AUTH_KEY}
    if new is not None:
        values[CLIENT_AUTH_KEY] = new.get_secret_value()
    change = f"the new PREFECT_API_AUTH_STRING of server '{spec.name}'" if new is not None else f"no PREFECT_API_AUTH_STRING: server '{spec.name}' will no longer require one"
    write = Action(
        id=f"a{start + len(actions)}",
        kind="write-secrets-file",
        description=f"Rewrite the secrets file '{worker.secrets_file}' of worker '{worker.name}' with {change}, readable only by {worker.reader}, SYSTEM and Administrators",
        target=worker.secrets_file,
        depends_on=list(server_file),
        data={"path": worker.secrets_file, "content": render_secrets_text(worker.name, values, {k: v.get_secret_value() for k, v in worker.variables.items()}), "reader": worker.reader, "previous": worker.content, "previousUnknown": False},
    )
    actions.append(write)
    if worker.running:
        actions.append(
            Action(
                id=f"a{start + len(actions)}",
                kind="restart-service",
                description=f"Restart worker '{worker.name}' after server '{spec.name}', so that it sends the server's new auth settings",
                target=worker.name,
                depends_on=[write.id, *server_start],
                data={"timeoutSec": worker.stop_timeout_sec},
            )
        )
    return None


def _own_warning(spec: Any, worker: LocalWorker, new: Optional[SecretStr]) -> str:
    reinstall = f"Install-PrefectService -Name {worker.name} -Role Worker -Pool {worker.pool or '<pool>'}"
    if new is None:
        return (
            f"Worker '{worker.name}' sends its own auth string to server '{spec.name}', which will no longer require one; PrefectWin leaves it (the server "
            f"ignores it). To remove it, install the worker again without -AuthCredential ({reinstall})."
        )
    if worker.sends is None:
        return (
            f"Worker '{worker.name}' uses server '{spec.name}' and sends no auth string, so the server will refuse it (HTTP 401): install it again "
            f"({reinstall}; without -ApiUrl and -AuthCredential it takes the server's string)."
        )
    return (
        f"Worker '{worker.name}' sends its own -AuthCredential to server '{spec.name}', which PrefectWin does not change: if it is not the server's new "
        f"credential, the server will refuse it (HTTP 401). Install it again ({reinstall}) without -AuthCredential to take the server's string, "
        "or with the new credential."
    )


def stale_auth_message(worker: str, server: str, pool: Optional[str], sends: bool) -> str:
    """Why a worker of this computer is refused by the server it follows, and the fix: the
    server's auth was changed after the worker was installed (a rotation PrefectWin could not
    carry to it, or one made by hand)."""
    what = "sends an auth string that is not the one" if sends else "sends no auth string, but"
    return (
        f"worker '{worker}' {what} server '{server}' of this computer now requires: the server's auth was changed after the worker was installed "
        f"(Install-PrefectService -Role Server -AuthCredential rotates it). Install the worker again: Install-PrefectService -Name {worker} -Role Worker "
        f"-Pool {pool or '<pool>'} (without -ApiUrl and -AuthCredential it takes the server's string), or with -AuthCredential and the server's credential"
    )
