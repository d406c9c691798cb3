"""What the adapters do for Install-PrefectStack: the base interpreter and a venv (for real,
here), NSSM from winget or Chocolatey (the Windows collaborator, its child processes recorded),
and the POSIX stand-in's records of accounts, ACL grants and firewall rules."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from prefectwin.errors import ApplyFailed
from prefectwin.system.interpreter import InterpreterOps
from prefectwin.system.posix_standin import StandInServices
from prefectwin.system.windows_packages import CHOCO_ARGUMENTS, WINGET_ARGUMENTS, NssmPackages


def test_a_base_interpreter_is_described_by_the_base_a_venv_of_it_names_as_home(tmp_path):
    ops = InterpreterOps()
    executable, version = ops.describe_python([sys.executable])
    assert version == "%d.%d.%d" % sys.version_info[:3]
    assert executable == (getattr(sys, "_base_executable", None) or sys.executable)
    assert ops.describe_python([str(tmp_path / "no-python")]) is None
    script = tmp_path / "not-python"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    assert ops.describe_python([str(script)]) is None


@pytest.mark.skipif(sys.platform == "win32", reason="the venv layout checked is POSIX's")
def test_create_venv_makes_a_venv_whose_home_is_the_described_base(tmp_path):
    ops = InterpreterOps()
    executable, _ = ops.describe_python([sys.executable])
    ops.create_venv(executable, str(tmp_path / "venv"))
    config = (tmp_path / "venv" / "pyvenv.cfg").read_text()
    assert f"home = {os.path.dirname(executable)}" in config
    done = subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and str(tmp_path / "venv") in done.stdout


class _Config:
    def __init__(self, machine_path: str = "") -> None:
        self.machine_path = machine_path

    def get_environment_variable(self, name: str, scope: str):
        return self.machine_path if (name, scope) == ("Path", "Machine") else None


def _packages(monkeypatch, tmp_path, found: dict, answers: list, machine_path: str = "") -> tuple[NssmPackages, list]:
    from prefectwin.system import windows_packages

    monkeypatch.setattr(windows_packages.shutil, "which", lambda name, path=None: found.get((name, path)) or found.get(name))
    for variable in ("ProgramFiles", "LOCALAPPDATA", "ChocolateyInstall", "ProgramData"):
        monkeypatch.setenv(variable, str(tmp_path / variable))
    ran: list = []

    def run(argv):
        ran.append(argv)
        return answers.pop(0)

    return NssmPackages(_Config(machine_path), run), ran


def test_winget_comes_first_and_installs_machine_wide(monkeypatch, tmp_path):
    packages, ran = _packages(monkeypatch, tmp_path, {"winget": "C:\\winget.exe", "choco": "C:\\choco.exe"}, [(0, "Successfully installed")])
    assert packages.installers() == [("winget", "C:\\winget.exe"), ("choco", "C:\\choco.exe")]
    link = tmp_path / "ProgramFiles" / "WinGet" / "Links"
    link.mkdir(parents=True)
    (link / "nssm.exe").write_bytes(b"MZ")
    assert packages.install("winget") == str(link / "nssm.exe")
    assert ran == [["C:\\winget.exe", *WINGET_ARGUMENTS]] and "--scope" in WINGET_ARGUMENTS and "machine" in WINGET_ARGUMENTS


def test_chocolatey_installs_into_its_shim_folder(monkeypatch, tmp_path):
    packages, ran = _packages(monkeypatch, tmp_path, {"choco": "C:\\choco.exe"}, [(0, "installed")])
    shim = tmp_path / "ChocolateyInstall" / "bin"
    shim.mkdir(parents=True)
    (shim / "nssm.exe").write_bytes(b"MZ")
    assert packages.installers() == [("choco", "C:\\choco.exe")]
    assert packages.install("choco") == str(shim / "nssm.exe")
    assert ran == [["C:\\choco.exe", *CHOCO_ARGUMENTS]]


def test_a_failed_or_unfindable_install_is_an_apply_failure_naming_nssm_path(monkeypatch, tmp_path):
    packages, _ = _packages(monkeypatch, tmp_path, {"winget": "C:\\winget.exe"}, [(1, "line one\nNo package found matching input criteria.")])
    with pytest.raises(ApplyFailed) as failed:
        packages.install("winget")
    assert failed.value.target == "NssmPath" and "No package found" in failed.value.message
    packages, _ = _packages(monkeypatch, tmp_path, {"winget": "C:\\winget.exe"}, [(0, "ok")])
    with pytest.raises(ApplyFailed) as unfound:
        packages.install("winget")
    assert "-NssmPath" in unfound.value.remediation
    with pytest.raises(ApplyFailed):
        packages.install("choco")  # not present


def test_the_stand_in_keeps_accounts_grants_and_rules_as_records(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://installer:4200/api")
    services = StandInServices(str(tmp_path))
    services.nssm_install(None, "PrefectServer", sys.executable)
    services.set_service_account(None, "PrefectServer", "NT SERVICE\\PrefectServer", None)
    assert services.read_service("PrefectServer").parameters["ObjectName"] == ("NT SERVICE\\PrefectServer",)
    home = str(tmp_path / "home")
    assert not services.has_modify(home, "NT SERVICE\\PrefectServer")
    services.grant_modify(home, "NT SERVICE\\PrefectServer")
    services.grant_read_execute(home, "NT SERVICE\\PrefectServer")
    assert services.has_modify(home, "nt service\\prefectserver") and services.has_read_execute(home, "NT SERVICE\\PrefectServer")
    services.revoke_modify(home, "NT SERVICE\\PrefectServer")
    assert not services.has_modify(home, "NT SERVICE\\PrefectServer") and services.has_read_execute(home, "NT SERVICE\\PrefectServer")
    assert services.firewall_rule_port("Prefect PrefectServer") is None
    services.add_firewall_rule("Prefect PrefectServer", 4200, ("LocalSubnet",), ("Domain", "Private"))
    assert services.firewall_rule_port("Prefect PrefectServer") == 4200
    assert services.firewall_rule_scope("Prefect PrefectServer") == (("LocalSubnet",), ("Domain", "Private"))
    services.remove_firewall_rule("Prefect PrefectServer")
    assert services.firewall_rule_scope("Prefect PrefectServer") is None
    # The records are no services, and the account's environment is what a started service gets.
    assert [r.name for r in services.read_managed_services([n for n in ("PrefectServer", "acl", "firewall")])] == ["PrefectServer"]
    environment = services.service_account_facts("NT SERVICE\\PrefectServer").environment
    assert "PREFECT_API_URL" not in environment and environment.get("PATH") == os.environ.get("PATH")
