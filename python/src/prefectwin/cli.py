"""`prefectwin doctor`: the diagnosis for humans (a table) and scripts (--json).

It goes through the same in-process request handler as the bridge, so the doctor, the
cmdlet and the contract fixtures can never disagree about what a check says.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional

from prefectwin import __version__

STATUS_STYLE = {"Pass": "green", "Warning": "yellow", "Fail": "bold red", "Skipped": "dim"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prefectwin", description="PrefectWin backend.")
    parser.add_argument("--version", action="version", version=f"prefectwin {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    doctor = sub.add_parser("doctor", help="Diagnose this machine's Prefect setup.")
    doctor.add_argument("--python", dest="pythonPath", help="interpreter Prefect runs under (default: this one)")
    doctor.add_argument("--port", type=int, help="server port (default: the effective PREFECT_SERVER_API_PORT)")
    doctor.add_argument("--prefect-home", dest="prefectHome", help="PREFECT_HOME to diagnose")
    doctor.add_argument("--role", choices=["server", "worker"], default="server")
    doctor.add_argument("--check", action="append", help="run only this check (repeatable)")
    doctor.add_argument("--json", action="store_true", help="print the check objects as JSON")
    sub.add_parser("rpc", help="Serve one JSON request from stdin (used by the PowerShell module).")
    sub.add_parser("serve", help="Serve JSON Lines requests with ids until stdin closes (a persistent session).")
    sub.add_parser("dsc", help="DSC v3: 'dsc get|test|set|export|schema|manifest --resource PrefectWin/Setting', the instance JSON on stdin.")
    sub.add_parser("prune-logs", help="Delete a PrefectWin service's rotated logs beyond its retention (the daily task runs this).")
    return parser


def _request(args: argparse.Namespace) -> bytes:
    params: dict[str, Any] = {"role": args.role.capitalize()}
    for key in ("pythonPath", "port", "prefectHome"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    if args.check:
        params["check"] = args.check
    return json.dumps({"protocol": 1, "command": "environment.test", "params": params}).encode()


def _render_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Prefect environment", show_lines=False, expand=False)
    table.add_column("Check", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    # Fold, never elide: a path or command cut to "..." in Remediation is of no use.
    table.add_column("Message", overflow="fold")
    table.add_column("Remediation", overflow="fold")
    for r in results:
        status = r["status"]
        table.add_row(r["check"], f"[{STATUS_STYLE[status]}]{status}[/]", r["message"], r.get("remediation") or "")
    console.print(table)
    counts = {s: sum(1 for r in results if r["status"] == s) for s in STATUS_STYLE}
    console.print(", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n))


def _render_error(error: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": error}, indent=2) + "\n")
        return
    sys.stderr.write(f"prefectwin: {error['message']}\n")
    if error.get("remediation"):
        sys.stderr.write(f"  {error['remediation']}\n")


def doctor(args: argparse.Namespace) -> int:
    from prefectwin.events import SilentEvents
    from prefectwin.rpc import handle

    response, code = handle(_request(args), SilentEvents())
    if not response["ok"]:
        _render_error(response["error"], args.json)
        return code
    results = response["result"]
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    else:
        _render_table(results)
    return 1 if any(r["status"] == "Fail" for r in results) else 0


def main(argv: Optional[list[str]] = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["rpc"]:
        from prefectwin.rpc import main as rpc_main

        return rpc_main(args_list[1:])
    if args_list[:1] == ["dsc"]:
        from prefectwin.dsc.manifest import main as dsc_main

        return dsc_main(args_list[1:])
    if args_list[:1] == ["serve"]:
        from prefectwin.serve import main as serve_main

        return serve_main(args_list[1:])
    if args_list[:1] == ["prune-logs"]:
        from prefectwin.services.prune import main as prune_main

        return prune_main(args_list[1:])
    args = _parser().parse_args(args_list)
    if args.command == "doctor":
        return doctor(args)
    return 2
