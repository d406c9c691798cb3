"""Bridge benchmark: what one cmdlet call costs compared with its unavoidable parts.

Prints the median wall time over N runs of:
  (a) python -c pass                    interpreter start-up
  (b) python -c "import pydantic"       the lazy top-level pydantic import
  (b') pydantic with one BaseModel      pydantic's model machinery, which any validation needs
  (c) a module.version round trip through `python -m prefectwin rpc`
  (d) prefectwin doctor --json          the full diagnosis
  (e) prefect version                   asking Prefect its version
and the ratios c/b, c/b' and d/e, plus the peak RSS of (c).

Usage: python bench/bridge.py [--runs 20]   (run with the venv's python: it benchmarks that one)
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ONE_MODEL = "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int\nM(x=1)"
VERSION_REQUEST = b'{"protocol":1,"command":"module.version","params":{}}'


def timed(argv: list[str], stdin: bytes | None, env: dict[str, str]) -> tuple[float, int | None]:
    """Wall seconds of one run, and its peak RSS in KiB where the OS reports it per child."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    proc.stdin.write(stdin or b"")
    proc.stdin.close()
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        rss = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss // 1024
    else:
        proc.wait()
        elapsed, rss = time.perf_counter() - start, None
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode}")
    return elapsed, rss


def measure(argv: list[str], runs: int, env: dict[str, str], stdin: bytes | None = None) -> tuple[float, int | None]:
    timed(argv, stdin, env)  # warm the page cache; not counted
    samples = [timed(argv, stdin, env) for _ in range(runs)]
    rss = [r for _, r in samples if r is not None]
    return statistics.median(t for t, _ in samples), (max(rss) if rss else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    python = sys.executable
    scripts = os.path.dirname(python)
    prefect = shutil.which("prefect", path=scripts) or shutil.which("prefect")
    prefectwin = shutil.which("prefectwin", path=scripts) or shutil.which("prefectwin")
    if not prefect or not prefectwin:
        raise SystemExit("Run with the venv's python: prefect and prefectwin must be installed next to it.")
    # The same isolated, analytics-free environment for every command, so neither side reads
    # the developer's profile or reaches for the network.
    home = tempfile.mkdtemp(prefix="prefectwin-bench-")
    env = dict(os.environ, PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)

    cases = {
        "a": ("python -c pass", [python, "-c", "pass"], None),
        "b": ("python -c 'import pydantic'", [python, "-c", "import pydantic"], None),
        "b'": ("pydantic + one BaseModel", [python, "-c", ONE_MODEL], None),
        "c": ("module.version via rpc", [python, "-X", "utf8", "-m", "prefectwin", "rpc"], VERSION_REQUEST),
        "d": ("prefectwin doctor --json", [prefectwin, "doctor", "--json"], None),
        "e": ("prefect version", [prefect, "version"], None),
    }
    results = {}
    print(f"{args.runs} runs each, medians; python {sys.version.split()[0]} at {python}")
    for key, (label, argv, stdin) in cases.items():
        median, rss = measure(argv, args.runs, env, stdin)
        results[key] = (median, rss)
        print(f"  ({key:2}) {label:30} {median * 1000:8.1f} ms")
    c, b, b1, d, e = (results[k][0] for k in ("c", "b", "b'", "d", "e"))
    rss_c = results["c"][1]
    print(f"  c/b  = {c / b:.2f}   (target <= 1.3)")
    print(f"  c/b' = {c / b1:.2f}")
    print(f"  d/e  = {d / e:.2f}   (target <= 1.0)")
    print(f"  peak RSS of (c) = {rss_c / 1024:.1f} MiB   (target <= 60)" if rss_c else "  peak RSS of (c): not reported on this OS")
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
