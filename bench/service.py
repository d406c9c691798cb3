"""Service payload benchmark: does the ServiceSpec cost anything over a bare server?

Times, from process start to GET /api/health answering true:
  (spec) the server ServiceSpec exactly as build_spec makes it (python -m prefect server start
         with the spec's arguments, environment and working directory = PREFECT_HOME)
  (bare) `prefect server start --host 127.0.0.1 --port P`, with only PREFECT_HOME (and the
         analytics switch the machine needs: it has no DNS) set
alternating spec/bare for N pairs, each in a fresh PREFECT_HOME holding a copy of one
pre-migrated SQLite database (so migrations, ~7 s, are not what is measured). Prints the
medians, the ratio spec/bare (target <= 1.05) and the peak RSS of the whole process tree of
each (psutil, polled every 50 ms until 1 s after healthy).

Usage: python bench/service.py [--pairs 5]   (run with the venv's python: it benchmarks that one)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import psutil

from prefectwin.commands.service import ServiceInstallParams
from prefectwin.services.spec import build_spec
from prefectwin.services.validate import service_environment

POLL_SEC = 0.05
START_TIMEOUT_SEC = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(api_url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{api_url}/health", timeout=1) as response:
            return response.status == 200 and json.loads(response.read() or b"null") is True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run(argv: list[str], env: dict[str, str], cwd: str, api_url: str) -> tuple[float, int]:
    """Seconds from Popen to a healthy /api/health, and the peak RSS of the process tree."""
    began = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    root = psutil.Process(process.pid)
    peak, seconds, settle_until = 0, None, None
    try:
        while True:
            peak = max(peak, tree_rss(root))
            now = time.perf_counter()
            if seconds is None and healthy(api_url):
                seconds = now - began
                settle_until = now + 1.0
            if settle_until is not None and now >= settle_until:
                return seconds, peak
            if process.poll() is not None:
                raise SystemExit(f"{argv} exited with {process.returncode} before it was healthy")
            if now - began > START_TIMEOUT_SEC:
                raise SystemExit(f"{argv} was not healthy within {START_TIMEOUT_SEC} s")
            time.sleep(POLL_SEC)
    finally:
        try:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def template_database(root: str) -> str:
    home = os.path.join(root, "template")
    os.makedirs(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"], env=env, cwd=home, check=True, capture_output=True, timeout=300)
    return os.path.join(home, "prefect.db")


def fresh_home(root: str, label: str, index: int, template: str) -> str:
    home = os.path.join(root, f"{label}-{index}")
    os.makedirs(home)
    shutil.copyfile(template, os.path.join(home, "prefect.db"))
    return home


def spec_case(root: str, index: int, template: str) -> tuple[float, int]:
    home = fresh_home(root, "spec", index, template)
    params = ServiceInstallParams(name="PrefectServer", role="Server", prefect_home=home, port=free_port())
    spec = build_spec(params, python=sys.executable, default_home=home, host=socket.gethostname(), flavor="posix")
    return run([spec.application, *spec.arguments], service_environment(spec), spec.working_directory, spec.api_url)


def bare_case(root: str, index: int, template: str) -> tuple[float, int]:
    home = fresh_home(root, "bare", index, template)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    launcher = os.path.join(os.path.dirname(sys.executable), "prefect")
    return run([launcher, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, home, f"http://127.0.0.1:{port}/api")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    root = tempfile.mkdtemp(prefix="prefectwin-bench-service-")
    try:
        template = template_database(root)
        spec_times, bare_times, spec_rss, bare_rss = [], [], [], []
        for index in range(args.pairs):
            # Alternate which goes first, so a warming cache favours neither.
            order = [("spec", spec_case), ("bare", bare_case)] if index % 2 == 0 else [("bare", bare_case), ("spec", spec_case)]
            for label, case in order:
                seconds, rss = case(root, index, template)
                (spec_times if label == "spec" else bare_times).append(seconds)
                (spec_rss if label == "spec" else bare_rss).append(rss)
                print(f"pair {index + 1} {label}: healthy after {seconds:.2f} s, peak RSS {rss / 2**20:.0f} MiB", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    spec_median, bare_median = statistics.median(spec_times), statistics.median(bare_times)
    print()
    print(f"median start to /api/health: spec {spec_median:.2f} s, bare {bare_median:.2f} s, ratio spec/bare {spec_median / bare_median:.3f} (target <= 1.05)")
    print(f"peak RSS of the process tree: spec median {statistics.median(spec_rss) / 2**20:.0f} MiB (max {max(spec_rss) / 2**20:.0f}), bare median {statistics.median(bare_rss) / 2**20:.0f} MiB (max {max(bare_rss) / 2**20:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
