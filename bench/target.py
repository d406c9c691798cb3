"""Warm-target benchmark: repeated requests that ask the target interpreter, through one
`prefectwin serve` session (one warm agent) against one-shot `prefectwin rpc` processes, then
from PowerShell, and where a warm request's time goes. Target: a repeated one-check
Test-PrefectEnvironment through a session in at most 150 ms from PowerShell.

Usage: .venv/bin/python bench/target.py [--calls 20] [--no-pwsh]
(pwsh is looked for on PATH, then in ~/.cache/prefectwin-ci/pwsh-7.6.9.)
The target interpreter is this one; PREFECT_HOME is a fresh temporary folder.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHECK = "settings.api-url"  # one check that needs the target (its sources come from Prefect)
REQUESTS = {
    "module.version (no target)": {"command": "module.version", "params": {}},
    f"environment.test -Check {CHECK}": {"command": "environment.test", "params": {"check": [CHECK]}},
    "setting.get PREFECT_API_URL": {"command": "setting.get", "params": {"name": ["PREFECT_API_URL"]}},
}
PWSH_CALLS = r"""
$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'
Import-Module -Name (Join-Path -Path $env:PREFECTWIN_REPO -ChildPath 'PrefectWin.psd1') -Force
function Get-Median([scriptblock] $Action, [int] $Count) {
    $null = & $Action
    $times = foreach ($i in 1..$Count) { $w = [Diagnostics.Stopwatch]::StartNew(); $null = & $Action; $w.Stop(); $w.Elapsed.TotalMilliseconds }
    $sorted = @($times | Sort-Object); $m = [int][Math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2) { $sorted[$m] } else { ($sorted[$m - 1] + $sorted[$m]) / 2 }
}
$check = { Test-PrefectEnvironment -Check '__CHECK__' }
$noTarget = { Test-PrefectEnvironment -Check 'windows.nssm' }
$f = [ordered]@{ oneShotMs = Get-Median $check __ONESHOT__ }
$w = [Diagnostics.Stopwatch]::StartNew(); Start-PrefectSession; $w.Stop(); $f.sessionStartMs = $w.Elapsed.TotalMilliseconds
try {
    $w = [Diagnostics.Stopwatch]::StartNew(); $null = & $check; $w.Stop(); $f.firstInSessionMs = $w.Elapsed.TotalMilliseconds
    $f.sessionMs = Get-Median $check __CALLS__
    $f.sessionNoTargetMs = Get-Median $noTarget __CALLS__
} finally { Stop-PrefectSession }
ConvertTo-Json -InputObject $f -Compress
"""


def environment(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECTWIN_PYTHON=sys.executable, PREFECTWIN_REPO=str(REPO))
    return env


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def one_shot(request: dict, calls: int, env: dict[str, str], cwd: str) -> float:
    body = json.dumps({"protocol": 1, **request}).encode()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc"], input=body, capture_output=True, env=env, cwd=cwd)
        times.append(time.perf_counter() - start)
        assert json.loads(done.stdout)["ok"], done.stdout
    return median_ms(times)


def in_session(calls: int, env: dict[str, str], cwd: str) -> dict[str, tuple[float, float]]:
    """Per request: (first call, median of the repeated ones) through one serve process."""
    proc = subprocess.Popen([sys.executable, "-X", "utf8", "-m", "prefectwin", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=cwd)
    figures, next_id = {}, 0
    try:
        for label, request in REQUESTS.items():
            times = []
            for _ in range(calls + 1):
                next_id += 1
                start = time.perf_counter()
                proc.stdin.write(json.dumps({"id": next_id, "protocol": 1, **request}).encode() + b"\n")
                proc.stdin.flush()
                answer = json.loads(proc.stdout.readline())
                while "ok" not in answer:
                    answer = json.loads(proc.stdout.readline())
                times.append(time.perf_counter() - start)
                assert answer["ok"], answer
            figures[label] = (times[0] * 1000, median_ms(times[1:]))
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    return figures


SETTINGS_TIMER = """import sys, time
from prefect.settings import Settings
Settings()
for line in sys.stdin:
    start, cpu = time.perf_counter(), time.process_time()
    Settings()
    print((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000, flush=True)
"""


def breakdown(calls: int, env: dict[str, str], cwd: str) -> dict[str, float]:
    """Where a warm environment.test request goes. Taken in turns, so that the machine's load
    weighs on each part alike: the request through serve, the same diagnose request sent
    straight to an agent, and Prefect's Settings() (the fresh read each request makes) alone."""
    sys.path.insert(0, str(REPO / "python" / "src"))
    from prefectwin.target.channel import Agent

    import psutil

    request = REQUESTS[f"environment.test -Check {CHECK}"]
    serve = subprocess.Popen([sys.executable, "-X", "utf8", "-m", "prefectwin", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=cwd)
    timer = subprocess.Popen([sys.executable, "-c", SETTINGS_TIMER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=cwd, text=True)
    agent = Agent(sys.executable, env=env, cwd=cwd, timeout=300)

    def cpu(*pids: int) -> float:
        total = 0.0
        for pid in pids:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        return total

    parts: dict[str, list[float]] = {name: [] for name in ("request", "request cpu", "agent", "agent cpu", "settings", "settings cpu")}
    try:
        for i in range(calls + 1):
            warm = [c.pid for c in psutil.Process(serve.pid).children()]
            before, start = cpu(serve.pid, *warm), time.perf_counter()
            serve.stdin.write(json.dumps({"id": i, "protocol": 1, **request}).encode() + b"\n")
            serve.stdin.flush()
            while "ok" not in json.loads(serve.stdout.readline()):
                pass
            parts["request"].append(time.perf_counter() - start)
            parts["request cpu"].append(cpu(serve.pid, *warm) - before if warm else float("nan"))
            before, start = cpu(agent.pid), time.perf_counter()
            assert agent.ask("diagnose", env=env, cwd=cwd)["ok"]
            parts["agent"].append(time.perf_counter() - start)
            parts["agent cpu"].append(cpu(agent.pid) - before)
            timer.stdin.write("\n")
            timer.stdin.flush()
            wall, used = (float(x) / 1000 for x in timer.stdout.readline().split())
            parts["settings"].append(wall)
            parts["settings cpu"].append(used)
    finally:
        agent.close()
        for proc in (serve, timer):
            proc.stdin.close()
            proc.wait(timeout=60)
    return {name: median_ms(times[1:]) for name, times in parts.items()}


def find_pwsh() -> str | None:
    cached = Path.home() / ".cache" / "prefectwin-ci" / "pwsh-7.6.9" / "pwsh"
    return shutil.which("pwsh") or (str(cached) if cached.exists() else None)


def powershell(calls: int, env: dict[str, str], cwd: str) -> dict | None:
    pwsh = find_pwsh()
    if pwsh is None:
        return None
    script = PWSH_CALLS.replace("__CHECK__", CHECK).replace("__CALLS__", str(calls)).replace("__ONESHOT__", str(max(3, calls // 4)))
    done = subprocess.run([pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", script], env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pwsh failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--no-pwsh", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefectwin-bench-") as home:
        env = environment(home)
        import prefect

        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"python {sys.version.split()[0]}, prefect {prefect.__version__}, {os.cpu_count()} cores, load {load:.1f}; medians of {args.calls} repeated calls")
        session = in_session(args.calls, env, home)
        shots = max(3, args.calls // 4)
        print(f"  {'request':40} {'one-shot':>10} {'1st in session':>15} {'session':>10} {'speed-up':>9}")
        for label, request in REQUESTS.items():
            shot = one_shot(request, shots, env, home)
            first, warm = session[label]
            print(f"  {label:40} {shot:8.1f}ms {first:13.1f}ms {warm:8.1f}ms {shot / warm:8.1f}x")
        parts = breakdown(args.calls, env, home)
        print(f"  a warm {CHECK} request, taken in turns (wall / CPU time; CPU time is what a quiet machine would take):")
        print(f"    through serve, all in        : {parts['request']:7.1f} ms / {parts['request cpu']:6.1f} ms CPU (serve + its agent)")
        print(f"    the agent's diagnose alone   : {parts['agent']:7.1f} ms / {parts['agent cpu']:6.1f} ms CPU")
        print(f"    of which Prefect's Settings(): {parts['settings']:7.1f} ms / {parts['settings cpu']:6.1f} ms CPU")
        print(f"    the backend and its pipes    : {parts['request'] - parts['agent']:7.1f} ms / {parts['request cpu'] - parts['agent cpu']:6.1f} ms CPU")
        if not args.no_pwsh:
            f = powershell(args.calls, env, home)
            if f is None:
                print("  pwsh not found: PowerShell figures skipped")
            else:
                print(f"  PowerShell: Test-PrefectEnvironment -Check {CHECK}: one-shot {f['oneShotMs']:.1f} ms, "
                      f"Start-PrefectSession {f['sessionStartMs']:.1f} ms, first in session {f['firstInSessionMs']:.1f} ms, "
                      f"repeated in session {f['sessionMs']:.1f} ms ({f['oneShotMs'] / f['sessionMs']:.1f}x; target <= 150 ms: "
                      f"{'met' if f['sessionMs'] <= 150 else 'NOT met'}); -Check windows.nssm (no target) {f['sessionNoTargetMs']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
