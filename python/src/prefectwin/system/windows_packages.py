"""NSSM from a Windows package manager: winget first, then Chocolatey, whichever is present.

Both are run as argument lists through the adapter's `_run` (tests replace it with a recorder).
Neither updates this process's PATH, so the nssm.exe they installed is looked for where each
one puts it, then on the machine PATH as the registry now holds it.

winget gets `--scope machine`: a portable package installed for the user lands in that user's
profile, which a service's own account (NT SERVICE\\<name>) cannot read, and NSSM is the
binary the Service Control Manager starts for every PrefectWin service.
"""
from __future__ import annotations

import glob
import os
import shutil
from typing import Any, Callable

from prefectwin.errors import ApplyFailed

WINGET_ARGUMENTS = ("install", "--id", "NSSM.NSSM", "-e", "--silent", "--scope", "machine", "--accept-package-agreements", "--accept-source-agreements")
CHOCO_ARGUMENTS = ("install", "nssm", "-y", "--no-progress")
INSTALLERS = ("winget", "choco")
# winget's "already installed, no newer version": not a failure for us.
WINGET_NO_UPGRADE = (-1978335189,)


def _expanded(name: str, *rest: str) -> str:
    return os.path.join(os.environ.get(name) or "", *rest)


def _places(installer: str) -> list[str]:
    """Where each package manager leaves nssm.exe (its link or shim first)."""
    if installer == "winget":
        links = [_expanded("ProgramFiles", "WinGet", "Links"), _expanded("LOCALAPPDATA", "Microsoft", "WinGet", "Links")]
        packages = [_expanded(root, *tail) for root, tail in (("ProgramFiles", ("WinGet", "Packages")), ("LOCALAPPDATA", ("Microsoft", "WinGet", "Packages")))]
        found = [p for folder in packages for p in sorted(glob.glob(os.path.join(glob.escape(folder), "NSSM.NSSM*", "**", "win64", "nssm.exe"), recursive=True))]
        return [os.path.join(link, "nssm.exe") for link in links] + found
    return [_expanded("ChocolateyInstall", "bin", "nssm.exe"), _expanded("ProgramData", "chocolatey", "bin", "nssm.exe")]


class NssmPackages:
    def __init__(self, config: Any, run: Callable[[list[str]], tuple[int, str]]) -> None:
        self.config = config
        self._run = run

    def installers(self) -> list[tuple[str, str]]:
        found = [(name, shutil.which(name)) for name in INSTALLERS]
        return [(name, path) for name, path in found if path]

    def install(self, installer: str) -> str:
        path = dict(self.installers()).get(installer)
        if path is None:
            raise ApplyFailed(f"{installer} is not on PATH any more; NSSM was not installed.", target="NssmPath")
        arguments = WINGET_ARGUMENTS if installer == "winget" else CHOCO_ARGUMENTS
        code, output = self._run([path, *arguments])
        if code != 0 and not (installer == "winget" and code in WINGET_NO_UPGRADE):
            tail = " | ".join(output.splitlines()[-4:])[-800:]
            raise ApplyFailed(f"{installer} install NSSM failed (exit code {code}): {tail}", target="NssmPath")
        for candidate in _places(installer):
            if os.path.isfile(candidate):
                return candidate
        machine_path = self.config.get_environment_variable("Path", "Machine") or ""
        found = shutil.which("nssm", path=os.path.expandvars(machine_path))
        if found:
            return found
        raise ApplyFailed(
            f"{installer} reported NSSM installed, but no nssm.exe was found where it puts it or on the machine PATH.",
            target="NssmPath",
            remediation="Find nssm.exe and run the command again with -NssmPath.",
        )
