"""The command registry: each command is declared once, next to its handler.

A command named `family.verb` lives in `prefectwin.commands.<family>`. Only that module is
imported to serve a request, so a trivial command never pays for a heavy family.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

from prefectwin.errors import InvalidRequest
from prefectwin.events import Events


@dataclass(frozen=True)
class Context:
    what_if: bool
    events: Events
    #: the request's `apply` (models.ApplyRequest): which plan, and which of its actions
    apply: Optional[Any] = None
    #: (command, digest of the raw params): which request a kept plan was made for
    request: Optional[tuple[str, str]] = None


@dataclass(frozen=True)
class Command:
    name: str
    params: type
    result: Any
    handler: Callable[[Any, Context], Any]
    summary: str
    changes_state: bool


_COMMANDS: dict[str, Command] = {}


def command(name: str, *, params: type, result: Any, changes_state: bool = False):
    def register(handler: Callable[[Any, Context], Any]) -> Callable[[Any, Context], Any]:
        if name in _COMMANDS:
            raise RuntimeError(f"command {name} registered twice")
        if changes_state and "actions" not in getattr(result, "model_fields", {}):
            # Invoke-PrefectPlan asks ShouldProcess about each action of the whatIf answer.
            raise RuntimeError(f"command {name} changes state, so its result must list its actions")
        summary = (handler.__doc__ or "").strip().splitlines()[0] if handler.__doc__ else ""
        _COMMANDS[name] = Command(name, params, result, handler, summary, changes_state)
        return handler

    return register


def _family_modules() -> list[str]:
    import prefectwin.commands as package

    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def load_all() -> dict[str, Command]:
    for family in _family_modules():
        importlib.import_module(f"prefectwin.commands.{family}")
    return dict(sorted(_COMMANDS.items()))


def lookup(name: str) -> Command:
    if name in _COMMANDS:
        return _COMMANDS[name]
    family, _, verb = name.partition(".")
    if family.isidentifier() and verb and not family.startswith("_") and family in _family_modules():
        importlib.import_module(f"prefectwin.commands.{family}")
        if name in _COMMANDS:
            return _COMMANDS[name]
    known = list(load_all())
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"Did you mean '{close[0]}'?" if close else "Run 'python -m prefectwin rpc --schema' for the list."
    raise InvalidRequest(
        f"Unknown command '{name}'.",
        target="command",
        remediation=f"{hint} Known commands: {', '.join(known)}.",
    )


def schema() -> dict[str, Any]:
    from pydantic import TypeAdapter

    from prefectwin import PROTOCOL_VERSION, __version__

    commands: dict[str, Any] = {}
    for name, cmd in load_all().items():
        commands[name] = {
            "summary": cmd.summary,
            "changesState": cmd.changes_state,
            "params": cmd.params.model_json_schema(by_alias=True),
            "result": TypeAdapter(cmd.result).json_schema(by_alias=True, mode="serialization"),
        }
    return {"protocol": PROTOCOL_VERSION, "version": __version__, "commands": commands}

