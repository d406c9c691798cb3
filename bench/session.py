"""Session benchmark: N module.version calls through one `prefectwin serve` process against
N one-shot `prefectwin rpc` processes. Target: the session is at least 10x faster.

Usage: python bench/session.py [--calls 100]   (run with the venv's python)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

REQUEST = {"protocol": 1, "command": "module.version", "params": {}}


def one_shot(calls: int) -> float:
    body = json.dumps(REQUEST).encode()
    start = time.perf_counter()
    for _ in range(calls):
        done = subprocess.run([sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc"], input=body, capture_output=True)
        assert json.loads(done.stdout)["ok"], done.stdout
    return time.perf_counter() - start


def session(calls: int) -> float:
    """Includes starting the session process, as the first call of a runbook would pay it."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-X", "utf8", "-m", "prefectwin", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    for i in range(calls):
        proc.stdin.write(json.dumps({"id": i, **REQUEST}).encode() + b"\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        while "ok" not in answer:  # the request's events come first, on the same stdout
            answer = json.loads(proc.stdout.readline())
        assert answer["id"] == i and answer["ok"], answer
    proc.stdin.close()
    proc.wait(timeout=30)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    shot = one_shot(args.calls)
    sess = session(args.calls)
    print(f"{args.calls} module.version calls, python {sys.version.split()[0]}")
    print(f"  one-shot rpc processes : {shot * 1000:8.1f} ms total, {shot * 1000 / args.calls:6.2f} ms/call")
    print(f"  one serve session      : {sess * 1000:8.1f} ms total, {sess * 1000 / args.calls:6.2f} ms/call")
    print(f"  speed-up               : {shot / sess:.1f}x   (target >= 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
