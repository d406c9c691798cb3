"""The ONE place where DSC plans and applies a change: through the very commands the cmdlets
call (setting.set, setting.remove, service.install, service.uninstall), so Test and Set can
never decide differently from Set-PrefectSetting or Install-PrefectService. When the change
engine replaces those executors, this is the call to repoint."""
from __future__ import annotations

import re
from typing import Any

from prefectwin.dsc.instances import pascal
from prefectwin.errors import InvalidArgument, InvalidRequest, PrefectWinError
from prefectwin.registry import Context, lookup

# A command parameter's name -> the DSC property it comes from, where they differ.
PROPERTY_OF = {"dependsOn": "serviceDependency"}


def run(command: str, params: dict[str, Any], ctx: Context, *, what_if: bool) -> Any:
    """The command's result: its plan (what_if) or what it did. Its errors name the DSC property."""
    from prefectwin.rpc import _validate_params

    cmd = lookup(command)
    try:
        try:
            validated = _validate_params(cmd, params)
        except InvalidRequest as exc:
            # The properties were valid for the resource but not for the command: a bad value.
            problems = [(_property(d["field"]), d["message"]) for d in exc.details or []]
            raise InvalidArgument(
                "; ".join(f"{pascal(where.split('.')[1])} {message}" for where, message in problems) + ".",
                target=problems[0][0] if problems else None,
                remediation=exc.remediation,
            ) from None
        return cmd.handler(validated, Context(what_if=what_if, events=ctx.events))
    except PrefectWinError as exc:
        exc.target = _property(exc.target)
        if exc.details:
            exc.details = [{**d, "field": _property(d.get("field"))} for d in exc.details]
        raise


def _property(target: Any) -> Any:
    if not isinstance(target, str):
        return target
    match = re.match(r"^params\.(\w+)(.*)$", target)
    if match is None:
        return target
    name = PROPERTY_OF.get(match.group(1), match.group(1))
    return f"properties.{name}{match.group(2)}"
