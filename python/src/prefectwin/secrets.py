"""Masking of credentials before anything is printed, logged or returned.

A value is secret by its meaning, never by where it is shown:
- a URL's password (`mask_url`), whatever variable holds it;
- the value of a setting that the target's Prefect release holds as a SecretStr. The target
  agent reports those names (target/agent.py, `_secret_names`); `learn()` keeps them per target
  interpreter for the process's life (a `serve` session), and `is_secret_name()` decides by them;
- every secret a request carries: SecretStr parameters, the values of secret names in its
  parameters and in the caller's environment, and what a command registers once it knows
  (a setting's value once the target has said the setting is secret).

Masking is structural: one place per kind of output applies `mask_text`/`mask_document`
with the current request's secrets (rpc.py: answers; errors.py: errors; events.py: verbose,
debug, warning, information and progress; change/model.py: action descriptions, i.e. plans and
ShouldProcess messages; change/journal.py: the journal). Call sites need not remember it.

SECRET_NAME, a fixed pattern of secret-looking names, is only the fallback for a name that no
target can answer for: before any target was asked in this process, for a name the asked
releases do not define (a service's own variables, such as AWS_SECRET_ACCESS_KEY), and for the
camelCase field names of the journal's action data.
"""
from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.parse
from typing import Any, Iterable, Iterator, Optional

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


# The fallback only (see the module's docstring): names whose values look secret.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|CREDENTIAL|AUTH_STRING|CONNECTION_URL|_KEY$", re.IGNORECASE)


# -- what the targets said ----------------------------------------------------------------------
_lock = threading.Lock()
# target interpreter (executable, Prefect version) -> (its secret names, all its setting names)
_learned: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {}
_generation = [0]  # bumped by learn(): what a request cached from the old answers is redone


def learned(target: tuple[str, str]) -> bool:
    with _lock:
        return target in _learned


def learn(target: tuple[str, str], secret: Iterable[str], names: Iterable[str]) -> None:
    """Keep what one target interpreter's release said (its SecretStr settings' names)."""
    secret_set = frozenset(n.upper() for n in secret)
    with _lock:
        _learned[target] = (secret_set, frozenset(n.upper() for n in names) | secret_set)
        _generation[0] += 1


def forget() -> None:
    """Tests: as if no target had been asked in this process."""
    with _lock:
        _learned.clear()
        _generation[0] += 1


def target_secret_names() -> frozenset[str]:
    """Every name a target asked in this process holds as secret."""
    with _lock:
        return frozenset().union(*(secret for secret, _ in _learned.values()))


def is_secret_name(name: str) -> bool:
    """Whether a variable of this name holds a secret: the target releases' word for the names
    they define, the fallback pattern for any other."""
    upper = name.strip().upper()
    with _lock:
        answers = list(_learned.values())
    if any(upper in secret for secret, _ in answers):
        return True
    if any(upper in names for _, names in answers):
        return False
    return bool(SECRET_NAME.search(upper))


def looks_secret(name: str) -> bool:
    return is_secret_name(name)


# -- the secrets of the request being served ----------------------------------------------------
# Shorter values are not replaced as literals: masking every 'ab' in an answer would garble it
# (a value this short is no credential worth the name; a URL's password is masked whatever it is).
MIN_LITERAL = 4


class RequestSecrets:
    """The secrets one request has brought or found: literal values to mask wherever they show."""

    def __init__(self, environment: Optional[dict[str, str]] = None) -> None:
        self._values: set[str] = set()
        self._environment = dict(environment or {})
        self.reveal_answer = False  # the caller asked to see secret values (-ShowSecret)
        self._cache: Optional[tuple[int, int, list[str]]] = None

    def use_environment(self, environment: dict[str, str]) -> None:
        self._environment = dict(environment)
        self._cache = None

    def register(self, *values: Any) -> None:
        for value in values:
            value = _plain(value)
            if isinstance(value, str) and len(value) >= MIN_LITERAL and value != MASK:
                self._values.add(value)

    def values(self) -> list[str]:
        """Longest first, so a secret that contains another is masked whole; each also as URL
        encoding and JSON escaping would show it."""
        key = (_generation[0], len(self._values))
        if self._cache is not None and self._cache[:2] == key:
            return self._cache[2]
        found = set(self._values)
        found.update(v for k, v in self._environment.items() if v and len(v) >= MIN_LITERAL and is_secret_name(k))
        forms: set[str] = set()
        for value in found:
            forms.update({value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value), json.dumps(value)[1:-1]})
            _, sep, password = value.partition(":")  # an auth string's password alone (user:password)
            if sep and len(password) >= MIN_LITERAL:
                forms.add(password)
        ordered = sorted((f for f in forms if len(f) >= MIN_LITERAL), key=len, reverse=True)
        self._cache = (*key, ordered)
        return ordered


# The request being served. A process serves one request at a time (rpc: one; serve: in turn),
# and its gathering threads must see the same secrets, so this is the process's, not a
# contextvar (a new thread starts without the caller's context).
_serving: list[Optional[RequestSecrets]] = [None]


def current() -> RequestSecrets:
    found = _serving[0]
    return found if found is not None else RequestSecrets()


@contextlib.contextmanager
def request_scope(environment: Optional[dict[str, str]] = None) -> Iterator[RequestSecrets]:
    scope = RequestSecrets(environment)
    previous, _serving[0] = _serving[0], scope
    try:
        yield scope
    finally:
        _serving[0] = previous


def register(*values: Any) -> None:
    """A value this request must never show (it is masked in every output from now on)."""
    found = _serving[0]
    if found is not None:
        found.register(*values)


def register_secret_setting(value: Any) -> None:
    """A value the target read from a SecretStr setting (a database URL from a profile): a URL
    keeps its shape (mask_url hides its password), anything else is masked whole."""
    plain = _plain(value)
    if isinstance(plain, str) and "://" not in plain:
        register(plain)


def register_named(mapping: Any) -> None:
    """The values of a {NAME: value} mapping whose names are secret."""
    if isinstance(mapping, dict):
        for key, value in mapping.items():
            if isinstance(key, str) and is_secret_name(key):
                register(value)


def register_found(value: Any) -> None:
    """Every SecretStr in validated parameters, and every value of a secret name in a mapping
    of them (an -Environment hashtable)."""
    from pydantic import BaseModel, SecretStr

    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, SecretStr):
            register(item)
        elif isinstance(item, BaseModel):
            skip = getattr(type(item), "secret_by_meaning", frozenset())
            stack.extend(getattr(item, name) for name in type(item).model_fields if name not in skip)
        elif isinstance(item, dict):
            register_named(item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def _plain(value: Any) -> Any:
    getter = getattr(value, "get_secret_value", None)
    return getter() if callable(getter) else value


# NAME=value, as descriptions and environment lists show a variable.
_ASSIGNMENT = re.compile(r"(?<![A-Za-z0-9_])(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^\s,;'\"]+)")


def mask_text(text: Any) -> Any:
    """A text as any output may show it: the request's secrets, URL passwords and the value of
    every NAME=value whose name is secret replaced by the mask."""
    if not isinstance(text, str) or not text:
        return text
    for value in current().values():
        if value in text:
            text = text.replace(value, MASK)
    text = mask_url(text) or ""
    if "=" in text:
        text = _ASSIGNMENT.sub(lambda m: f"{m.group('name')}={MASK}" if is_secret_name(m.group("name")) else m.group(0), text)
    return text


def mask_document(document: Any, *, keep: Iterable[str] = ()) -> Any:
    """A JSON document (an answer, an event, an error) with every string masked, and the value
    of every key that is a secret name replaced. Top-level keys in `keep` are left as they are:
    a channel to the PowerShell wrapper that it applies and never outputs."""
    kept = frozenset(keep)
    if isinstance(document, dict):
        out: dict[Any, Any] = {}
        for key, value in document.items():
            if key in kept:
                out[key] = value
            elif isinstance(key, str) and key.isupper() and isinstance(value, str) and value and is_secret_name(key):
                # An environment-style key (answers' own fields are camelCase).
                out[key] = MASK
            else:
                out[key] = mask_document(value)
        return out
    if isinstance(document, list):
        return [mask_document(item) for item in document]
    if isinstance(document, str):
        return mask_text(document)
    return document
