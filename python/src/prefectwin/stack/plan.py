"""The stack's plan, decided purely from what the command read.

    plan_interpreter(InterpreterFacts, version, wheel_folder)  -> the venv and pip actions
    plan_nssm(NssmFacts)                                       -> (its action or none, nssm.exe, notes)
    compose(prerequisites, services, wait)                     -> one plan, ids and dependsOn set

A service's actions keep their order and dependencies (services/plan.py numbers them a1...);
compose gives every action of the stack its own id and makes each service's first actions
depend on the interpreter and NSSM actions, so that declining the venv under -Confirm skips
the services that would run from it, and the wait depends on everything before it.
"""
from __future__ import annotations

import ntpath
import posixpath
from typing import Literal, Optional, Sequence

from pydantic import BaseModel, ConfigDict

from prefectwin.change.model import Action
from prefectwin.diagnosis.checks.prefect import release_pins
from prefectwin.diagnosis.checks.windows import NSSM_FIXED, NSSM_INSTALL, nssm_version_tuple
from prefectwin.errors import InvalidArgument, NotInstalled

#: The Prefect release the stack installs unless told otherwise: one the project's tests run.
PINNED_PREFECT = "3.9.1"
#: What the stack calls a health wait's time-out when none is given.
DEFAULT_TIMEOUT_SEC = 180
Flavor = Literal["windows", "posix"]
PHASE_OF_KIND = {"create-venv": "interpreter", "install-prefect": "interpreter", "install-nssm": "nssm", "wait-healthy": "health"}


def phase_of(kind: str) -> str:
    return PHASE_OF_KIND.get(kind, "services")


def flavor_paths(flavor: str):
    """ntpath or posixpath: the path rules of the machine the plan is for."""
    return ntpath if flavor == "windows" else posixpath


def default_venv(data_dir: str, version: str, flavor: Flavor) -> str:
    """`<PrefectWin data folder>/venvs/prefect-<version>`: one venv per release. The stack does
    not move services to another release (commands/stack.py _refuse_release_switch): that is
    Update-PrefectService's, which backs the database up before it migrates."""
    return flavor_paths(flavor).join(data_dir, "venvs", f"prefect-{version}")


def venv_python(venv: str, flavor: Flavor) -> str:
    paths = flavor_paths(flavor)
    return paths.join(venv, "Scripts", "python.exe") if flavor == "windows" else paths.join(venv, "bin", "python")


def requirements(version: str) -> tuple[str, ...]:
    """Prefect pinned, with the pins that make that release install and run today (the
    diagnosis's release_pins, written there quoted for a shell)."""
    return (f"prefect=={version}", *(pin.strip('"') for pin in release_pins(version)))


class InterpreterFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: the base interpreter (executable, X.Y.Z); None when none was found
    base: Optional[tuple[str, str]] = None
    #: where the base was looked for: the -PythonPath given, or None for the default lookup
    explicit: Optional[str] = None
    venv: str
    python: str
    exists: bool = False
    #: whether the venv's folder is there (without `exists`: a folder that is no venv, or empty)
    folder_exists: bool = False
    #: what that folder holds, by name, when it holds no interpreter
    folder_entries: tuple[str, ...] = ()
    #: the venv's distributions as name==version (pip freeze), when it exists
    packages: tuple[str, ...] = ()

    @property
    def prefect_version(self) -> Optional[str]:
        return prefect_release(self.packages)


def prefect_release(packages: Sequence[str]) -> Optional[str]:
    """Prefect's release in a `pip freeze` listing; None when it has none."""
    for line in packages:
        name, _, version = line.partition("==")
        if name.lower() == "prefect":
            return version
    return None


def _require_base(facts: InterpreterFacts, flavor: Flavor) -> tuple[str, str]:
    if facts.base is not None:
        return facts.base
    if facts.explicit:
        raise NotInstalled(
            f"-PythonPath '{facts.explicit}' is not a Python interpreter that starts.",
            target="PythonPath",
            remediation="Give the full path of python.exe (Python 3.9 or later), or omit -PythonPath to use the py launcher.",
        )
    where = "the py launcher (py.exe)" if flavor == "windows" else "python3 on PATH"
    raise NotInstalled(
        f"No Python was found: the stack looks for {where}.",
        target="PythonPath",
        remediation="Install Python 3.9 or later from python.org (with the py launcher), or give -PythonPath.",
    )


def plan_interpreter(facts: InterpreterFacts, version: str, wheel_folder: Optional[str], flavor: Flavor) -> list[Action]:
    """The venv (when it is not there) and Prefect pinned in it (when another release, or none, is)."""
    base, base_version = _require_base(facts, flavor)
    actions: list[Action] = []
    if not facts.exists and facts.folder_entries:
        # Undoing a venv made there would delete those files; making one over them is no venv of ours.
        shown = ", ".join(facts.folder_entries[:3]) + (", ..." if len(facts.folder_entries) > 3 else "")
        raise InvalidArgument(
            f"The venv folder '{facts.venv}' holds files ({shown}) and no Python interpreter ('{facts.python}'): it is not a venv.",
            target="VenvPath",
            remediation="Give -VenvPath a new or empty folder (or an existing venv), or move those files away.",
        )
    if not facts.exists:
        existed = " in the empty folder there" if facts.folder_exists else ""
        actions.append(
            Action(
                kind="create-venv",
                description=f"Create the venv '{facts.venv}'{existed} from Python {base_version} ('{base}')",
                target=facts.venv,
                data={"base": base, "path": facts.venv, "folderExisted": facts.folder_exists},
            )
        )
    installed = facts.prefect_version
    if installed != version:
        wanted = requirements(version)
        source = f"the wheels in '{wheel_folder}'" if wheel_folder else "the package index pip is configured with"
        what = f"Prefect {version}" + (f" (replacing {installed})" if installed else "") + (f" with {', '.join(wanted[1:])}" if len(wanted) > 1 else "")
        actions.append(
            Action(
                kind="install-prefect",
                description=f"Install {what} into '{facts.venv}' from {source}",
                target=facts.venv,
                data={
                    "python": facts.python,
                    "requirements": list(wanted),
                    "version": version,
                    "wheelPath": wheel_folder,
                    "newVenv": not facts.exists,
                    "previous": list(facts.packages),
                    "previousVersion": installed,
                },
            )
        )
    return actions


class NssmFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    explicit: Optional[str] = None
    path: Optional[str] = None
    version: Optional[str] = None
    #: the package managers that can install NSSM here, preferred first (names)
    installers: tuple[str, ...] = ()
    #: False for a wrapper whose version means nothing (the POSIX stand-in)
    versioned: bool = True


def _fixed(version: Optional[str]) -> Optional[bool]:
    parsed = nssm_version_tuple(version)
    return None if parsed is None else parsed >= NSSM_FIXED


def plan_nssm(facts: NssmFacts) -> tuple[list[Action], Optional[str], list[str]]:
    """(the install action or none, the nssm.exe to use, warnings). NSSM before 2.24-101 leaves
    services 'paused' on Windows 10 and later, so an older one is replaced when a package
    manager can, and refused when it cannot."""
    notes: list[str] = []
    if facts.explicit:
        if facts.path is None:
            raise NotInstalled(f"-NssmPath '{facts.explicit}' is not an nssm.exe.", target="NssmPath", remediation=f"Give the full path of nssm.exe. {NSSM_INSTALL}")
        if facts.versioned and _fixed(facts.version) is False:
            raise InvalidArgument(
                f"NSSM {facts.version} at -NssmPath '{facts.path}' leaves services 'paused' on Windows 10 and later.",
                target="NssmPath",
                remediation=f"{NSSM_INSTALL} Or omit -NssmPath to let winget or Chocolatey install it.",
            )
        return [], facts.path, notes
    fixed = _fixed(facts.version) if facts.path and facts.versioned else True
    if facts.path and fixed is not False:
        if fixed is None:
            notes.append(f"NSSM at {facts.path} reports no readable version ({facts.version}); PrefectWin cannot tell whether it is 2.24-101 or later.")
        return [], facts.path, notes
    if not facts.installers:
        what = f"NSSM {facts.version} at {facts.path} leaves services 'paused' on Windows 10 and later" if facts.path else "NSSM (the service wrapper) is not on PATH"
        raise NotInstalled(
            f"{what}, and neither winget nor Chocolatey is here to install it.",
            target="NssmPath",
            remediation=f"{NSSM_INSTALL} Then give -NssmPath C:\\path\\to\\nssm.exe, or put it on PATH.",
        )
    installer = facts.installers[0]
    replacing = f", replacing NSSM {facts.version} at '{facts.path}' for these services" if facts.path else ""
    action = Action(
        kind="install-nssm",
        description=f"Install NSSM 2.24-101 or later with {installer}{replacing}",
        target="NSSM",
        data={"installer": installer},
    )
    return [action], None, notes


def wait_action(names: Sequence[str], timeout_sec: int) -> Action:
    return Action(
        kind="wait-healthy",
        description=f"Wait up to {timeout_sec} s until {' and '.join(repr(n) for n in names)} {'is' if len(names) == 1 else 'are'} healthy",
        target=", ".join(names),
        impact="Low",
        data={"names": list(names), "timeoutSec": timeout_sec},
    )


def gate(server_actions: Sequence[Action], name: str, timeout_sec: int) -> list[Action]:
    """The server's actions, then, when they start it, a wait until it is healthy: a worker
    started before its server answers misses its first heartbeat and sends the next one only
    after Prefect's heartbeat interval (30 s), so the worker starts after this gate."""
    if not any(a.kind in ("start-service", "restart-service") for a in server_actions):
        return list(server_actions)
    wait = wait_action([name], timeout_sec).model_copy(update={"id": "gate", "depends_on": [a.id for a in server_actions]})
    return [*server_actions, wait]


def compose(prerequisites: Sequence[Action], services: Sequence[Sequence[Action]], wait: Optional[Action]) -> list[Action]:
    """One plan: the prerequisites in order (each after the one before), then each service's
    actions with their own dependencies renamed, the first ones after the prerequisites, then
    the wait after every action before it. Once a service's group holds a gate, each later
    group's first actions depend on it too, so that declining the gate (or, through it, the
    server's install) under -Confirm skips the services that need that server."""
    plan: list[Action] = []

    def add(action: Action, depends_on: list[str]) -> str:
        ident = f"a{len(plan) + 1}"
        plan.append(action.model_copy(update={"id": ident, "depends_on": depends_on}))
        return ident

    previous: list[str] = []
    for action in prerequisites:
        previous = [add(action, previous)]
    before_services = previous
    # Services that share PREFECT_HOME each plan its folder; it is created once.
    created: dict[str, str] = {}
    gates: list[str] = []
    for actions in services:
        renamed: dict[str, str] = {}
        added: set[str] = set()
        for action in actions:
            if action.kind == "create-directory" and action.target in created:
                renamed[action.id] = created[action.target]
                continue
            own = [renamed[d] for d in action.depends_on if d in renamed]
            # First in its group: after only the prerequisites, or a folder an earlier group creates.
            first = not any(d in added for d in own)
            renamed[action.id] = add(action, [*own, *gates] if own and first else own or [*before_services, *gates])
            added.add(renamed[action.id])
            if action.kind == "create-directory" and action.target:
                created[action.target] = renamed[action.id]
        if "gate" in renamed:
            gates = [renamed["gate"]]
    if wait is not None and plan:
        add(wait, [a.id for a in plan])
    return plan
