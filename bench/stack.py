"""Install-PrefectStack benchmark: the phases Linux can measure, from a box with Python to green.

Runs the real backend (`python -m prefectwin rpc`) with services on the POSIX stand-in for the
Service Control Manager, in a fresh scratch folder, and prints:
  (a) venv        `python -m venv` of the base interpreter (pip included)
  (b) pip         `pip install prefect==<version>` into it from the wheelhouse (no index)
  (c) stack       stack.install on that venv (-VenvPath), so its plan has only the services:
                  planning + services applied + health wait + diagnosis, by phase, and total
  (d) again       the same stack.install a second time: an empty plan, health and diagnosis
  (e) whole       (a) + (b) + (c): a box with Python to green
Each phase is the median of --runs fresh runs (a new venv, PREFECT_HOME and database each).
What only Windows has is not here: NSSM's install (winget or Chocolatey), the Service Control
Manager's start of a service, ACL grants and the firewall rule; the stand-in keeps those as
records, and a first start on Windows also pays Defender's scan of the new venv.

Usage: .venv/bin/python bench/stack.py [--runs 3] [--wheelhouse ../shared/wheelhouse] [--no-compile]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WHEELHOUSE = REPO.parent / "shared" / "wheelhouse"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
    return time.perf_counter() - started


def stack(params: dict, env: dict[str, str], cwd: Path) -> tuple[float, dict]:
    request = json.dumps({"protocol": 1, "command": "stack.install", "params": params}).encode()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc"], input=request, env=env, cwd=cwd, capture_output=True, timeout=1800)
    seconds = time.perf_counter() - started
    answer = json.loads(done.stdout)
    if not answer.get("ok"):
        raise SystemExit(f"stack.install failed: {answer.get('error')}")
    return seconds, answer["result"]


def one_run(base: str, version: str, wheelhouse: Path, no_compile: bool) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="prefectwin-bench-stack-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECTWIN_POSIX_SERVICE_ROOT=str(work / "services"),
        PREFECTWIN_DATA_DIR=str(work / "data"),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=" ".join(p for p in (str(wheelhouse), os.environ.get("PIP_FIND_LINKS")) if p),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    if no_compile:
        env["PIP_NO_COMPILE"] = "1"
    venv = work / "venv"
    figures: dict[str, float] = {}
    try:
        figures["venv"] = timed([base, "-m", "venv", str(venv)], env)
        figures["pip"] = timed([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"prefect=={version}"], env)
        params = {"venvPath": str(venv), "prefectHome": str(work / "home"), "port": free_port(), "pool": "bench", "prefectVersion": version}
        figures["stack"], first = stack(params, env, work)
        if not first["green"]:
            raise SystemExit(f"not green: {first['problems']}")
        for phase in first["phases"]:
            figures[f"stack.{phase['name']}"] = phase["seconds"]
        figures["stack.total"] = first["totalSeconds"]
        figures["again"], second = stack(params, env, work)
        assert second["actions"] == [], second["actions"]
        figures["whole"] = figures["venv"] + figures["pip"] + figures["stack"]
        return figures
    finally:
        from prefectwin.system.posix_standin import StandInServices

        services = StandInServices(str(work / "services"))
        for name in ("PrefectWorker", "PrefectServer"):
            if services.read_service(name) is not None:
                services.stop_service(name, 30)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--version", default="3.9.1")
    parser.add_argument("--wheelhouse", type=Path, default=DEFAULT_WHEELHOUSE)
    parser.add_argument("--no-compile", action="store_true", help="PIP_NO_COMPILE=1, as tests/stack/test_real.py installs")
    args = parser.parse_args()
    base = getattr(sys, "_base_executable", None) or sys.executable
    runs = [one_run(base, args.version, args.wheelhouse, args.no_compile) for _ in range(args.runs)]
    print(f"base {base}, Prefect {args.version}, {args.runs} run(s), pip {'without' if args.no_compile else 'with'} .pyc compilation; medians in s")
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(f"  {key:<18} {statistics.median(values):7.2f}   (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
