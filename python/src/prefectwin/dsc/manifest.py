"""DSC v3 without PowerShell: the resource manifests (dsc/*.dsc.resource.json) and the command
lines they declare, `prefectwin dsc <operation> --resource PrefectWin/<Name>`.

Each operation reads the instance JSON on stdin (DSC sends it compressed, on one line), serves
it through the same in-process handler as the bridge (dsc.get, dsc.test, dsc.set, dsc.export),
and writes what DSC v3 expects on stdout: get and set one JSON line of the state, test the
state with `_inDesiredState` and then the array of differing property names (return
stateAndDiff), export one line per instance. Messages go to stderr as one JSON object per
line keyed by DSC's trace level; the exit code is the protocol's (0 ok, 1 error, 2 invalid
input).
"""
from __future__ import annotations

import json
import sys
from typing import IO, Any, Optional

from prefectwin.events import Events

MANIFEST_SCHEMA = "https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json"
EXECUTABLE = "prefectwin"
OPERATIONS = ("get", "test", "set", "export")
EXIT_CODES = {"0": "Success", "1": "Error (the message on stderr says what and what to do)", "2": "Invalid input"}
LEVELS = {"verbose": "info", "information": "info", "warning": "warn", "debug": "debug"}
DESCRIPTIONS = {
    "PrefectWin/Setting": "A Prefect setting in one scope: the active profile, or a User or Machine environment variable.",
    "PrefectWin/Service": "A Prefect server or worker as a Windows service (NSSM), installed as described and running.",
}


class DscEvents(Events):
    """The backend's events as DSC trace lines on stderr: {"info": "..."} and the like."""

    def _emit(self, record: dict) -> None:
        level = LEVELS.get(str(record.get("level")))
        if level is not None:
            super()._emit({level: record.get("message", "")})

    def error(self, message: str) -> None:
        super()._emit({"error": message})


def _command(operation: str, dsc_type: str) -> dict[str, Any]:
    return {"executable": EXECUTABLE, "args": ["dsc", operation, "--resource", dsc_type], "input": "stdin"}


def manifest(dsc_type: str) -> dict[str, Any]:
    """The manifest of one resource, its instance schema embedded from the registry's model."""
    from prefectwin import __version__
    from prefectwin.dsc.instances import DSC_TYPES, instance_schema

    return {
        "$schema": MANIFEST_SCHEMA,
        "type": dsc_type,
        "version": __version__,
        "description": DESCRIPTIONS[dsc_type],
        "tags": ["Prefect", "PrefectWin"],
        "get": _command("get", dsc_type),
        "test": {**_command("test", dsc_type), "return": "stateAndDiff"},
        # dsc.set plans first and applies only what differs, so DSC need not test before it.
        "set": {**_command("set", dsc_type), "implementsPretest": True, "return": "state"},
        "export": _command("export", dsc_type),
        "exitCodes": EXIT_CODES,
        "schema": {"embedded": instance_schema(DSC_TYPES[dsc_type])},
    }


def manifest_text(dsc_type: str) -> str:
    return json.dumps(manifest(dsc_type), indent=2) + "\n"


def _read_instance(stdin: IO[bytes]) -> dict[str, Any]:
    from prefectwin.errors import InvalidRequest

    raw = stdin.read().decode("utf-8-sig").strip()
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise InvalidRequest("The instance on stdin is not one JSON object.", target="stdin", remediation="Send the instance's properties as a JSON object.")
    return document


def _line(value: Any, out: IO[str]) -> None:
    out.write(json.dumps(value, ensure_ascii=True, separators=(",", ":")) + "\n")


def run(operation: str, dsc_type: str, stdin: IO[bytes], out: IO[str], err: IO[str]) -> int:
    from prefectwin.dsc.instances import DSC_TYPES
    from prefectwin.errors import PrefectWinError
    from prefectwin.rpc import handle_document

    events = DscEvents(err)
    try:
        properties = _read_instance(stdin)
    except PrefectWinError as exc:
        events.error(exc.message)
        return exc.exit_code
    if operation == "schema":
        from prefectwin.dsc.instances import instance_schema

        _line(instance_schema(DSC_TYPES[dsc_type]), out)
        return 0
    if DSC_TYPES[dsc_type] == "PrefectService":
        from prefectwin.dsc.service import refuse_inline_auth

        try:
            refuse_inline_auth(properties)
        except PrefectWinError as exc:
            events.error(" ".join(p for p in (exc.message, exc.remediation) if p))
            return exc.exit_code
    request = {"protocol": 1, "command": f"dsc.{operation}", "params": {"resource": DSC_TYPES[dsc_type], "properties": properties}}
    response, code = handle_document(request, events)
    if not response["ok"]:
        error = response["error"]
        events.error(" ".join(p for p in (error["message"], error.get("remediation")) if p))
        return code
    result = response["result"]
    if operation == "export":
        for item in result:
            _line(item["properties"], out)
    elif operation == "test":
        _line({**result["properties"], "_inDesiredState": result["inDesiredState"]}, out)
        _line(result["differingProperties"], out)
    else:
        _line(result["properties"], out)
    return 0


def main(argv: list[str], stdin: Optional[IO[bytes]] = None, out: Optional[IO[str]] = None, err: Optional[IO[str]] = None) -> int:
    import argparse

    from prefectwin.dsc.instances import DSC_TYPES

    parser = argparse.ArgumentParser(prog="prefectwin dsc", description="The DSC v3 resources PrefectWin/Setting and PrefectWin/Service.")
    parser.add_argument("operation", choices=(*OPERATIONS, "schema", "manifest"))
    parser.add_argument("--resource", required=True, choices=sorted(DSC_TYPES))
    args = parser.parse_args(argv)
    out = out or sys.stdout
    if args.operation == "manifest":
        out.write(manifest_text(args.resource))
        return 0
    return run(args.operation, args.resource, stdin or sys.stdin.buffer, out, err or sys.stderr)
