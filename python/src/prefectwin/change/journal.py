"""The journal: a file per apply in progress, written BEFORE each step, so that a backend that
is killed mid-apply (time-out, lost session, reboot) leaves a record the next command finds.

Where: `<data folder>/journal/<plan id>.json`. The data folder is the machine's PrefectWin
folder, where config.json lives too: `%ProgramData%\\PrefectWin` on Windows, `/var/lib/prefectwin`
for root elsewhere, `$XDG_STATE_HOME/prefectwin` (or `~/.local/state/prefectwin`) for other
users; `PREFECTWIN_DATA_DIR` overrides it (tests).

A journal can hold a service's spec (paths, accounts, environment names), so its folder is
restricted through the system adapter (`restrict_to_administrators`) each time one is begun:
SYSTEM and Administrators only on Windows, the owner only (0700) on POSIX. On Windows a process
that is not elevated could not write there afterwards, so its journal lives in its own profile
(`%LOCALAPPDATA%\\PrefectWin\\journal`, private to the user already) and is not restricted.

No secret is ever written. Every value of an action's data that is a SecretStr, holds a known
secret of the command, a URL password, or is a KEY=VALUE assignment with a secret-looking name
is stored as {"$secret": true}. A step whose redo or undo would need such a value cannot be
finished or rolled back from the journal; recovery says so and names the command to run again.

A record is replaced atomically (temp file in the same folder, fsync, rename), so a kill leaves
either the old record or the new one. A completed apply, or one whose rollback completed,
removes its record.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sys
from typing import Any, Iterable, Optional

from pydantic import SecretStr

from prefectwin import secrets as _secrets
from prefectwin.secrets import SECRET_NAME as _SECRET_NAME, mask_url

VERSION = 1
SECRET = {"$secret": True}
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=")


def data_dir() -> str:
    override = os.environ.get("PREFECTWIN_DATA_DIR")
    if override:
        return os.path.abspath(override)
    if sys.platform == "win32":
        return os.path.join(os.environ.get("ProgramData") or "C:\\ProgramData", "PrefectWin")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "/var/lib/prefectwin"
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "prefectwin")


def _elevated() -> bool:
    from prefectwin.system import get_adapter

    try:
        return bool(get_adapter().is_admin())
    except Exception:  # noqa: BLE001 - not knowing is not being an administrator
        return False


def _location() -> tuple[str, bool]:
    """(the journal folder, whether to restrict it to SYSTEM and Administrators)."""
    if sys.platform != "win32":
        return os.path.join(data_dir(), "journal"), True
    elevated = _elevated()
    if elevated or os.environ.get("PREFECTWIN_DATA_DIR"):
        return os.path.join(data_dir(), "journal"), elevated
    local = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    return os.path.join(local, "PrefectWin", "journal"), False


def journal_dir() -> str:
    return _location()[0]


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get("$secret") is True


def contains_secret(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_secret(v) for v in value)
    return False


def _secret_field(key: str, value: Any) -> bool:
    if not isinstance(value, (str, SecretStr)) or value == "":
        return False
    if key.isupper():  # an environment name: the target releases' word (secrets.is_secret_name)
        return _secrets.is_secret_name(key)
    # A field of an action's data (authString, databaseUrl): no target can say; the pattern.
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)  # authString -> auth_String
    return bool(_SECRET_NAME.search(snake))


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` as JSON data with every secret replaced by SECRET: the command's own, and every
    secret of the request being served (secrets.current)."""
    secrets = tuple(s for s in secrets if s) + tuple(_secrets.current().values())
    if isinstance(value, SecretStr):
        return SECRET
    if isinstance(value, str):
        assignment = _ASSIGNMENT.match(value)
        if any(s in value for s in secrets) or mask_url(value) != value or (assignment and _secrets.is_secret_name(assignment.group(1))):
            return SECRET
        return value
    if isinstance(value, dict):
        return {str(k): SECRET if _secret_field(str(k), v) else redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v, secrets) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value), secrets)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class Journal:
    """One apply's record. `mark(id, state)` before ("started") and after ("done") each step."""

    def __init__(self, path: str, record: dict[str, Any]) -> None:
        self.path = path
        self.record = record

    @classmethod
    def begin(
        cls,
        *,
        plan_id: str,
        command: str,
        summary: str,
        steps: str,
        context: dict[str, Any],
        actions: list[Any],
        secrets: Iterable[str] = (),
        replaces: Optional[str] = None,
    ) -> "Journal":
        folder, restrict = _location()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if restrict:
            from prefectwin.system import get_adapter

            # Before the first record is written: the folder may be older than this rule.
            adapter = get_adapter()
            adapter.restrict_to_administrators(folder)
        record = {
            "version": VERSION,
            "planId": plan_id,
            "command": command,
            "summary": _secrets.mask_text(summary),
            "steps": steps,
            "context": redact(context, secrets),
            "pid": os.getpid(),
            "startedAt": _now(),
            "replaces": replaces,
            "actions": [
                {**_secrets.mask_document(a.model_dump(mode="json", by_alias=True)), "data": redact(a.data, secrets)} for a in actions
            ],
            "progress": {},
        }
        journal = cls(os.path.join(folder, f"{plan_id}.json"), record)
        journal._write()
        return journal

    def mark(self, action_id: str, state: str) -> None:
        self.record["progress"][action_id] = state
        self._write()

    def close(self) -> None:
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def _write(self) -> None:
        temp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.record, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)


def _alive(pid: int, started_at: str) -> bool:
    """Whether the backend that wrote a record still runs (a reused pid started later is not it)."""
    import psutil

    try:
        created = psutil.Process(pid).create_time()
    except (psutil.Error, ValueError):
        return False
    try:
        started = _dt.datetime.fromisoformat(started_at).timestamp()
    except (TypeError, ValueError):
        return True
    return created <= started + 1


def pending(*, include_running: bool = False) -> list[Journal]:
    """The records left by applies whose backend is gone (or, with include_running, all)."""
    folder = journal_dir()
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            if hasattr(os, "getuid") and os.stat(path).st_uid not in (0, os.getuid()):
                continue  # planted by another user: never acted on
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or record.get("version") != VERSION:
            continue
        if not include_running and _alive(int(record.get("pid") or 0), record.get("startedAt")):
            continue  # another backend is applying it right now
        found.append(Journal(path, record))
    return found
