"""PowerShell benchmark: PrefectWin calls from pwsh, per call ($env:PREFECTWIN_BACKEND = 'PerCall',
a backend process per call) and through the runspace's one backend (the default), beside a
native cmdlet.

Runs bench/powershell_calls.ps1 in one pwsh process (so pwsh's own start-up is not counted)
and prints medians and ratios. The backend is this interpreter (PREFECTWIN_PYTHON), and the
target interpreter of the checks is the same one.

Usage: .venv/bin/python bench/powershell.py [--runs 20]   (pwsh on PATH)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CALLS = REPO / "bench" / "powershell_calls.ps1"


def measure(runs: int) -> dict:
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        raise SystemExit("pwsh is not on PATH (bash .ci/run installs PowerShell 7.6.9 into a cache; put it on PATH)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECTWIN_PYTHON"] = sys.executable
    with tempfile.TemporaryDirectory(prefix="prefectwin-bench-") as home:
        # A PREFECT_HOME of its own, so the probe reads no developer profile.
        env["PREFECT_HOME"] = home
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        done = subprocess.run(
            [pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", str(CALLS), "-Runs", str(runs)],
            cwd=home, env=env, capture_output=True, text=True, check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"pwsh failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    f = measure(args.runs)
    print(f"PowerShell {f['powershell']}, python {sys.version.split()[0]}, medians of {f['runs']} calls")
    print(f"  Import-Module PrefectWin (first)            : {f['importMs']:8.1f} ms")
    print(f"  native Get-Item                             : {f['nativeMs']:8.2f} ms")
    print(f"  Start-PrefectSession (first use)            : {f['sessionStartMs']:8.1f} ms")
    rows = [
        ("module.version (bridge round trip)", "VersionMs"),
        ("Test-PrefectEnvironment -Check windows.nssm", "NoProbeCheckMs"),
        ("Test-PrefectEnvironment -Check python.version", "ProbeCheckMs"),
    ]
    print(f"  {'':44}  {'per call':>10} {'session':>10} {'speed-up':>9} {'session/native':>15}")
    for label, key in rows:
        shot, sess = f["perCall" + key], f["session" + key]
        print(f"  {label:44}  {shot:8.1f}ms {sess:8.1f}ms {shot / sess:8.1f}x {sess / f['nativeMs']:14.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
