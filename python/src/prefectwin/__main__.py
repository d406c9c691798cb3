"""`python -m prefectwin <rpc|serve|doctor>`.

Dispatch by hand rather than argparse: `rpc` is on the hot path of every cmdlet call.
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["rpc"]:
        from prefectwin.rpc import main as rpc_main

        return rpc_main(args[1:])
    if args[:1] == ["serve"]:
        from prefectwin.serve import main as serve_main

        return serve_main(args[1:])
    from prefectwin.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
