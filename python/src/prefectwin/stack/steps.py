"""How the stack's own actions are carried out and undone; every other kind in a stack plan is a
service action, carried out and undone by services/steps.py, so one apply covers the whole plan.

- create-venv: the venv, from the base interpreter; undone by removing the folder, or, when the
  folder was there before (empty: the plan refuses one with files in it), what is in it.
- install-prefect: pip install of the pinned release and its pins, checked afterwards; in a
  venv this run created, undone by that venv's removal, else by putting the recorded
  packages back.
- install-nssm: winget or Chocolatey; the nssm.exe it installed is what the later service
  steps run. It is not undone: NSSM is a machine-wide tool that other services may use.

Each step's time is added to its phase (plan.phase_of), which the result reports.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from prefectwin.change.engine import NotReversible, Steps
from prefectwin.change.model import Action
from prefectwin.errors import ApplyFailed
from prefectwin.services import steps as service_steps
from prefectwin.stack.plan import phase_of


@dataclass
class Runtime(service_steps.Runtime):
    #: seconds spent applying, by phase
    phases: dict[str, float] = field(default_factory=dict)


def runtime(context: dict[str, Any]) -> Runtime:
    """The runtime of a journal's context, in a new process (recovery). NSSM installed by the
    interrupted run is found where it now is."""
    from prefectwin.system import get_adapter

    adapter = get_adapter()
    nssm = context.get("nssm")
    if nssm is None:
        try:
            nssm = adapter.find_nssm(None)[0]
        except Exception:  # noqa: BLE001 - no NSSM and no services here: undoing a venv needs neither
            nssm = None
    return Runtime(adapter=adapter, nssm=nssm)


def _install_prefect(action: Action, rt: Runtime) -> None:
    data = action.data
    rt.adapter.pip_install(data["python"], data["requirements"], data.get("wheelPath"))
    # pip may resolve an older release when a dependency cannot be had; that is no success.
    installed = {line.partition("==")[0].lower(): line.partition("==")[2] for line in rt.adapter.pip_freeze(data["python"])}
    if installed.get("prefect") != data["version"]:
        raise ApplyFailed(
            f"pip installed Prefect {installed.get('prefect') or 'nothing'} into '{action.target}', not {data['version']}.",
            target=action.target,
            remediation="Check that the index or -WheelFolder has that release and every dependency it needs.",
        )


def _install_nssm(action: Action, rt: Runtime) -> None:
    from prefectwin.diagnosis.checks.windows import NSSM_FIXED, nssm_version_tuple

    path = rt.adapter.install_nssm(action.data["installer"])
    found, version = rt.adapter.find_nssm(path)
    parsed = nssm_version_tuple(version)
    if found is None or (parsed is not None and parsed < NSSM_FIXED):
        raise ApplyFailed(
            f"{action.data['installer']} installed NSSM {version or '(no version)'} at '{path}', not 2.24-101 or later.",
            target="NssmPath",
            remediation="Install NSSM 2.24-101 or later by hand and give -NssmPath.",
        )
    rt.nssm = found


def _empty_folder(action: Action, rt: Runtime) -> None:
    import os

    path = action.data["path"]
    for entry in rt.adapter.directory_entries(path):
        rt.adapter.remove_path(os.path.join(path, entry))


OWN: dict[str, Callable[[Action, Runtime], None]] = {
    "create-venv": lambda action, rt: rt.adapter.create_venv(action.data["base"], action.data["path"]),
    "install-prefect": _install_prefect,
    "install-nssm": _install_nssm,
    "empty-folder": _empty_folder,
}


def perform(action: Action, rt: Runtime) -> None:
    started = time.perf_counter()
    try:
        OWN.get(action.kind, service_steps.perform)(action, rt)
    finally:
        phase = phase_of(action.kind)
        if isinstance(rt, Runtime):
            rt.phases[phase] = rt.phases.get(phase, 0.0) + time.perf_counter() - started


def inverse(action: Action) -> Optional[Action]:
    data, target = action.data, action.target
    if action.kind == "create-venv" and data.get("folderExisted"):
        return Action(
            id=f"undo-{action.id}", kind="empty-folder", description=f"Remove what this run put into the venv folder '{target}', which was empty before",
            target=target, data={"path": data["path"]},
        )
    if action.kind == "create-venv":
        return Action(id=f"undo-{action.id}", kind="remove-path", description=f"Remove the venv '{target}' created by this run", target=target, data={"path": data["path"]})
    if action.kind == "install-prefect":
        if data.get("newVenv"):
            return None  # the venv's removal takes it away
        # An empty list is a record too: a venv that held no distribution.
        if data.get("previous") is None:
            raise NotReversible("the venv's previous packages were not recorded")
        was = data.get("previousVersion") or "the recorded packages"
        return Action(
            id=f"undo-{action.id}", kind="restore-packages", description=f"Install Prefect {was} into '{target}' again, with the packages it had",
            target=target, data={"python": data["python"], "packages": data["previous"], "wheelPath": data.get("wheelPath")},
        )
    if action.kind == "install-nssm":
        raise NotReversible("NSSM stays installed (a machine-wide tool other services may use); winget uninstall NSSM.NSSM or choco uninstall nssm removes it")
    return service_steps.inverse(action)


STEPS = Steps(
    module=__name__,
    perform=perform,
    inverse=inverse,
    run_last=service_steps.STEPS.run_last,
    undo_when_failed=service_steps.STEPS.undo_when_failed | {"create-venv", "install-prefect"},
)
