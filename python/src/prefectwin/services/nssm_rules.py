"""What NSSM would change or split: every value on its way into a service, checked in one place.

NSSM has no escape for any of these, so a value it would alter is refused with an error that
names the parameter it came from (pure: no OS calls):
- it runs ExpandEnvironmentStrings on the application, its directory, its arguments and every
  environment value, so `%USERNAME%` in a path or a pool name becomes someone else's text at
  service start. In a URL (and a secret or environment value, which may be one) `%` and two
  hex digits is an escape, how a URL carries `@` (`%40`); `merge_database_credential` writes
  every `%` of a password as `%25`;
- it stores multi-strings (AppEnvironmentExtra, DependOnService) split at line breaks, so a
  value with CR or LF smuggles in a variable of its own (`x\\nPREFECT_API_URL=...`);
- an AppEnvironmentExtra entry that starts with `+`, `-` or `:` is an operator (append,
  remove), not a variable;
- arguments become `prefect ... --pool P`: a value that starts with `-` is read as an option
  (`--help`), and a host with a space is no host;
- Windows paths longer than MAX_PATH (259 characters) fail in NSSM and in Python without
  long-path support.

`check` takes `(parameter, value, rule)` triples and raises on the first problem.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Iterable, Literal, Optional

from prefectwin.errors import InvalidArgument

# "url" and "secret" values may be URLs, whose %XX escapes NSSM leaves alone.
Rule = Literal["path", "text", "url", "secret", "argument", "host", "service", "env-name"]

MAX_PATH_CHARS = 259
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# Windows allows more in a service name than PrefectWin's own names, e.g. MSSQL$SQLEXPRESS.
_DEPENDENCY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.$@\-]{0,255}$")
_URL_ESCAPE = re.compile(r"[0-9A-Fa-f]{2}")  # fullmatch on the two characters after '%'
_OPERATORS = ("+", "-", ":")


def expanded_variable(value: str, url: bool = False) -> Optional[str]:
    """The first `%NAME%` that ExpandEnvironmentStrings could replace; None if there is none.
    In a URL (`url`), `%` and two hex digits is an escape, not the start of a name."""
    index = value.find("%")
    while index != -1:
        if url and _URL_ESCAPE.fullmatch(value[index + 1 : index + 3]):
            index = value.find("%", index + 3)
            continue
        end = value.find("%", index + 1)
        if end == -1:
            return None
        if end > index + 1:
            return value[index : end + 1]
        index = value.find("%", end + 1)  # '%%' names nothing
    return None


def _control(value: str) -> Optional[str]:
    for char in value:
        if char in "\r\n":
            return "a line break, where NSSM splits the value in two"
        if not char.isprintable() and char != " ":
            return f"the control character U+{ord(char):04X}"
    return None


def _shown(value: str, secret: bool) -> str:
    if secret:
        return ""  # a password or token is never echoed
    text = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    return repr(text if len(text) <= 80 else text[:77] + "...") + " "


def _host_problem(value: str) -> Optional[str]:
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if value and len(value) <= 253 and all(_HOST_LABEL.match(label) for label in labels):
        return None
    return "is not an IP address or host name"


def problem(value: str, rule: Rule) -> Optional[str]:
    """Why NSSM (or the command line it builds) would not pass `value` on unchanged."""
    control = _control(value)
    if control:
        return f"contains {control}"
    variable = expanded_variable(value, url=rule in ("url", "secret"))
    if variable:
        shown = "an environment variable reference" if rule == "secret" else f"'{variable}'"
        return f"contains {shown}, which NSSM would replace (ExpandEnvironmentStrings has no escape)"
    if rule == "path" and len(value) > MAX_PATH_CHARS:
        return f"is {len(value)} characters long; NSSM and Python without long-path support stop at {MAX_PATH_CHARS}"
    if rule == "argument" and value.startswith("-"):
        return "starts with '-', so Prefect's command line would read it as an option"
    if rule == "host":
        return _host_problem(value)
    if rule == "service" and not _DEPENDENCY.match(value):
        return "is not a Windows service name (letters, digits, '_', '.', '$', '@', '-')"
    if rule == "env-name":
        if value.startswith(_OPERATORS):
            return f"starts with '{value[0]}', which NSSM reads as an operator on the variable list, not as part of a name"
        if "%" in value or "=" in value or not value or value != value.strip():
            return "is not an environment variable name (no '=', '%' or surrounding spaces)"
    return None


def check(values: Iterable[tuple[str, Optional[str], Rule]]) -> None:
    """Raise InvalidArgument naming the parameter of the first value NSSM would change. A
    parameter may carry a label, `Environment[KEY]`: the error's target is `Environment`."""
    for label, value, rule in values:
        if value is None:
            continue
        why = problem(value, rule)
        if why is None:
            continue
        parameter = label.split("[", 1)[0]
        if rule == "path" and why.startswith("is ") and "characters long" in why:
            remediation = f"Choose a shorter -{parameter}."
        elif rule == "host":
            remediation = "Give an address such as 127.0.0.1 or 0.0.0.0, or a host name, and nothing else."
        else:
            remediation = f"Give -{parameter} without '%NAME%', line breaks or control characters{', and not starting with -' if rule == 'argument' else ''}; write out what a variable would expand to."
        what = "name " if rule == "env-name" else ""
        raise InvalidArgument(f"-{label} {what}{_shown(value, rule == 'secret')}{why}.", target=parameter, remediation=remediation)
