"""The Pester 5 suite, run by pytest: one test per tests/*.Tests.ps1 file and PowerShell host.

So `python -m pytest` is the one test command: wherever `pwsh` is on PATH (and, on Windows,
Windows PowerShell 5.1 as `powershell`), every Pester file runs under it through
tests/Invoke-PesterFile.ps1, which writes a JSON summary; a failure names the failing Pester
tests with their errors. Without pwsh the Pester tests are skipped with the reason, except
under CI (CI=true), where a missing pwsh or Pester 5 is a failure: .ci/run installs both.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from fixtures.common import IS_WINDOWS, REPO_ROOT, in_ci

TESTS = REPO_ROOT / "tests"
RUNNER = TESTS / "Invoke-PesterFile.ps1"
PESTER_FILES = sorted(TESTS.glob("*.Tests.ps1"))
NO_PESTER_EXIT = 3
# A generous bound: a file that starts a Prefect server and a few backends takes about a
# minute here; ten times that means something hangs.
FILE_TIMEOUT_SECONDS = 900


def powershell_hosts() -> list[str]:
    hosts = ["pwsh"]
    if IS_WINDOWS:
        hosts.append("powershell")
    return hosts


def _host_path(host: str) -> Optional[str]:
    return shutil.which(host)


def powershell_missing(reason: str) -> None:
    # Not fixtures.common.unavailable: its PREFECTWIN_TEST_SKIP_POSTGRES escape is for runners
    # without PostgreSQL and must not switch Pester off.
    if in_ci():
        pytest.fail(f"{reason}. CI=true, so this is a failure: .ci/run installs PowerShell and Pester.", pytrace=False)
    pytest.skip(reason)


_REQUIRED_VERSION = re.compile(r"^#Requires\s+-Version\s+(\d+)", re.IGNORECASE | re.MULTILINE)


def required_major_version(test_file: Path) -> int:
    """The PowerShell major version a file's `#Requires -Version` asks for (5 when none)."""
    match = _REQUIRED_VERSION.search(test_file.read_text(encoding="utf-8"))
    return int(match.group(1)) if match else 5


def _pester_env() -> dict[str, str]:
    env = dict(os.environ)
    # The module finds its backend here first; the interpreter that runs pytest has the
    # backend installed (README, test command).
    env.setdefault("PREFECTWIN_PYTHON", sys.executable)
    env["POWERSHELL_TELEMETRY_OPTOUT"] = "1"
    env["POWERSHELL_UPDATECHECK"] = "Off"
    return env


def run_pester_file(host: str, test_file: Path, out_dir: Path) -> dict:
    executable = _host_path(host)
    if executable is None:
        powershell_missing(f"{host} is not on PATH, so the Pester suite cannot run (.ci/run installs PowerShell 7.6.9)")
    summary_path = out_dir / f"{test_file.stem}.summary.json"
    result_path = out_dir / f"{test_file.stem}.nunit.xml"
    argv = [
        executable, "-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
        "-File", str(RUNNER), "-Path", str(test_file),
        "-SummaryPath", str(summary_path), "-ResultPath", str(result_path),
    ]
    completed = subprocess.run(
        argv, cwd=out_dir, env=_pester_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, encoding="utf-8", errors="replace",
        timeout=FILE_TIMEOUT_SECONDS,
    )
    output = completed.stdout + completed.stderr
    if completed.returncode == NO_PESTER_EXIT:
        powershell_missing(f"{host} has no Pester 5 on PSModulePath: {output.strip()}")
    if not summary_path.exists():
        pytest.fail(
            f"{host} ran {test_file.name} but wrote no summary (exit {completed.returncode}):\n"
            + _tail(output)
        )
    summary = json.loads(summary_path.read_text(encoding="utf-8-sig"))
    summary["output"] = output
    return summary


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _describe_failures(summary: dict) -> str:
    lines = [
        f"Pester {summary['pesterVersion']} on PowerShell {summary['powershell']} ({summary['edition']}): "
        f"{summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped, "
        f"{summary['notRun']} not run, result {summary['result']}"
    ]
    for failure in summary["failures"]:
        lines.append(f"  FAILED {failure['name']}: {failure['error']}")
    return "\n".join(lines)


@pytest.mark.parametrize("host", powershell_hosts())
@pytest.mark.parametrize("test_file", PESTER_FILES, ids=lambda path: path.name)
def test_pester_file_passes(host: str, test_file: Path, tmp_path: Path) -> None:
    if host == "powershell" and required_major_version(test_file) > 5:
        # The rule tooling that judges 5.1 compatibility runs under PowerShell 7 by design.
        pytest.skip(f"{test_file.name} requires PowerShell {required_major_version(test_file)}; Windows PowerShell is 5.1")
    summary = run_pester_file(host, test_file, tmp_path)
    if summary["result"] != "Passed" or summary["failures"]:
        pytest.fail(_describe_failures(summary) + "\n--- output (tail) ---\n" + _tail(summary["output"]))
    # A file that passed nothing has lost its tests (a discovery error Pester did not count),
    # or skips all of them here: either way it proves nothing on this host.
    assert summary["passed"] > 0, _describe_failures(summary)
    if in_ci() and not IS_WINDOWS:
        # In CI everything runs that this platform can run: a skip is for Windows only, and
        # says so with its tag.
        untagged = [skip["name"] for skip in summary["skips"] if "Windows" not in skip["tags"]]
        assert untagged == [], f"skipped without a Windows tag: {untagged}"


def test_a_failing_pester_test_is_reported_by_name(tmp_path: Path) -> None:
    seeded = tmp_path / "Seeded.Tests.ps1"
    seeded.write_text(
        "Describe 'seeded' -Tag 'Windows' {\n"
        "    It 'passes' { 1 | Should -Be 1 }\n"
        "    It 'fails on purpose' { 1 | Should -Be 2 }\n"
        "    It 'is skipped' -Skip { }\n"
        "}\n",
        encoding="utf-8",
    )
    summary = run_pester_file("pwsh", seeded, tmp_path)
    assert (summary["passed"], summary["failed"], summary["skipped"]) == (1, 1, 1)
    assert summary["result"] == "Failed"
    [failure] = summary["failures"]
    assert failure["name"] == "seeded.fails on purpose"
    assert "Expected 2, but got 1" in failure["error"]
    assert _describe_failures(summary).count("FAILED seeded.fails on purpose") == 1
    assert summary["skips"] == [{"name": "seeded.is skipped", "tags": ["Windows"]}], "a skip carries its block's tags"


def test_requires_version_is_read_from_the_file(tmp_path: Path) -> None:
    seven = tmp_path / "Seven.Tests.ps1"
    seven.write_text("#Requires -Version 7.2\nDescribe 'x' { }\n", encoding="utf-8")
    plain = tmp_path / "Plain.Tests.ps1"
    plain.write_text("#Requires -Modules Pester\nDescribe 'x' { }\n", encoding="utf-8")
    assert (required_major_version(seven), required_major_version(plain)) == (7, 5)


def test_every_pester_file_is_collected() -> None:
    # The parametrization above globs tests/*.Tests.ps1; a renamed or misplaced file would
    # silently drop out of the run.
    names = {path.name for path in PESTER_FILES}
    assert "PrefectWin.Tests.ps1" in names
    stray = sorted(
        str(path.relative_to(REPO_ROOT))
        for path in REPO_ROOT.rglob("*.Tests.ps1")
        if path.parent != TESTS and ".venv" not in path.parts and "out" not in path.parts
    )
    assert stray == [], f"Pester files outside tests/ are never run: {stray}"

