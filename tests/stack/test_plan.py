"""The stack's pure planning (stack/plan.py): the interpreter's and NSSM's actions from facts,
and the one plan they make with each service's actions and the health wait."""
from __future__ import annotations

import pytest

from prefectwin.change.model import Action, number
from prefectwin.errors import InvalidArgument, NotInstalled
from prefectwin.stack.plan import (
    InterpreterFacts,
    NssmFacts,
    compose,
    gate,
    default_venv,
    plan_interpreter,
    plan_nssm,
    requirements,
    venv_python,
    wait_action,
)

BASE = ("C:\\Python312\\python.exe", "3.12.4")
VENV = "C:\\ProgramData\\PrefectWin\\venvs\\prefect-3.9.1"
PYTHON = VENV + "\\Scripts\\python.exe"


def facts(**fields) -> InterpreterFacts:
    return InterpreterFacts(**{"base": BASE, "venv": VENV, "python": PYTHON, **fields})


def test_the_venv_lives_under_the_data_folder_one_per_release():
    assert default_venv("C:\\ProgramData\\PrefectWin", "3.9.1", "windows") == VENV
    assert default_venv("/var/lib/prefectwin", "3.6.29", "posix") == "/var/lib/prefectwin/venvs/prefect-3.6.29"
    assert venv_python(VENV, "windows") == PYTHON
    assert venv_python("/v", "posix") == "/v/bin/python"


def test_requirements_pin_prefect_and_the_release_pins_without_shell_quotes():
    assert requirements("3.9.1") == ("prefect==3.9.1",)
    assert requirements("3.4.25") == ("prefect==3.4.25", "fastapi<0.116", "importlib_metadata")


def test_a_new_venv_is_created_then_prefect_installed_into_it():
    create, install = plan_interpreter(facts(), "3.9.1", None, "windows")
    assert (create.kind, create.target, create.data) == ("create-venv", VENV, {"base": BASE[0], "path": VENV, "folderExisted": False})
    assert "Python 3.12.4" in create.description
    assert install.kind == "install-prefect" and install.data["newVenv"] is True
    assert install.data["requirements"] == ["prefect==3.9.1"] and install.data["wheelPath"] is None
    assert "package index" in install.description


def test_an_air_gapped_install_names_its_wheel_folder():
    [_, install] = plan_interpreter(facts(), "3.4.25", "D:\\wheels", "windows")
    assert install.data["wheelPath"] == "D:\\wheels" and "D:\\wheels" in install.description
    assert "fastapi<0.116" in install.description


def test_a_venv_with_the_release_needs_nothing_and_another_release_is_replaced_with_a_way_back():
    packages = ("anyio==4.0.0", "prefect==3.9.1")
    assert plan_interpreter(facts(exists=True, packages=packages), "3.9.1", None, "windows") == []
    [install] = plan_interpreter(facts(exists=True, packages=packages), "3.9.2", None, "windows")
    assert install.data["newVenv"] is False and install.data["previous"] == list(packages)
    assert install.data["previousVersion"] == "3.9.1" and "replacing 3.9.1" in install.description


def test_a_folder_with_files_and_no_interpreter_is_refused_and_an_empty_one_is_recorded_as_there():
    with pytest.raises(InvalidArgument) as refused:
        plan_interpreter(facts(folder_exists=True, folder_entries=("notes.txt",)), "3.9.1", None, "windows")
    assert refused.value.target == "VenvPath" and "notes.txt" in refused.value.message and refused.value.remediation
    create, _ = plan_interpreter(facts(folder_exists=True), "3.9.1", None, "windows")
    assert create.data["folderExisted"] is True and "empty folder" in create.description


def test_no_base_python_is_refused_naming_python_path():
    with pytest.raises(NotInstalled) as missing:
        plan_interpreter(facts(base=None), "3.9.1", None, "windows")
    assert missing.value.target == "PythonPath" and "py launcher" in missing.value.message
    with pytest.raises(NotInstalled) as given:
        plan_interpreter(facts(base=None, explicit="D:\\nope\\python.exe"), "3.9.1", None, "windows")
    assert "D:\\nope\\python.exe" in given.value.message


def test_nssm_on_path_at_the_fixed_version_is_used():
    assert plan_nssm(NssmFacts(path="C:\\nssm.exe", version="2.24.101.0")) == ([], "C:\\nssm.exe", [])


@pytest.mark.parametrize("installers, chosen", [(("winget", "choco"), "winget"), (("choco",), "choco")])
def test_missing_nssm_is_installed_with_the_first_package_manager(installers, chosen):
    [action], path, _ = plan_nssm(NssmFacts(installers=installers))
    assert path is None and action.kind == "install-nssm" and action.data == {"installer": chosen}
    assert chosen in action.description


def test_an_old_nssm_is_replaced_when_a_package_manager_can_and_refused_when_none_can():
    [action], _, _ = plan_nssm(NssmFacts(path="C:\\old\\nssm.exe", version="2.24.0.0", installers=("winget",)))
    assert "replacing NSSM 2.24.0.0" in action.description
    with pytest.raises(NotInstalled) as refused:
        plan_nssm(NssmFacts(path="C:\\old\\nssm.exe", version="2.24.0.0"))
    assert refused.value.target == "NssmPath" and "paused" in refused.value.message
    with pytest.raises(NotInstalled) as absent:
        plan_nssm(NssmFacts())
    assert "winget install NSSM.NSSM" in absent.value.remediation


def test_an_explicit_nssm_path_is_never_replaced():
    with pytest.raises(NotInstalled) as missing:
        plan_nssm(NssmFacts(explicit="D:\\nssm.exe", installers=("winget",)))
    assert missing.value.target == "NssmPath"
    with pytest.raises(InvalidArgument) as old:
        plan_nssm(NssmFacts(explicit="D:\\nssm.exe", path="D:\\nssm.exe", version="2.24.0.0", installers=("winget",)))
    assert old.value.target == "NssmPath"


def test_a_wrapper_without_a_version_is_used_with_a_note_unless_it_is_the_stand_in():
    actions, path, notes = plan_nssm(NssmFacts(path="C:\\nssm.exe", version=None))
    assert (actions, path) == ([], "C:\\nssm.exe") and "no readable version" in notes[0]
    assert plan_nssm(NssmFacts(path="posix-service-stand-in", version="stand-in", versioned=False)) == ([], "posix-service-stand-in", [])


def _service(name: str, *kinds: str) -> list[Action]:
    """A service's actions as plan_install numbers them: the first ones free, the rest after
    the install."""
    actions = number(Action(kind=k, description=f"{k} {name}", target=f"/home" if k == "create-directory" else name) for k in kinds)
    return [a.model_copy(update={"depends_on": [actions[1].id]}) if i > 1 else a for i, a in enumerate(actions)]


def test_compose_makes_one_plan_with_unique_ids_and_the_services_after_the_prerequisites():
    venv, pip = plan_interpreter(facts(), "3.9.1", None, "windows")
    server = _service("PrefectServer", "create-directory", "install-service", "set-parameter", "start-service")
    worker = _service("PrefectWorker", "create-directory", "install-service", "start-service")
    plan = compose([venv, pip], [server, worker], wait_action(["PrefectServer", "PrefectWorker"], 60))
    ids = [a.id for a in plan]
    assert ids == [f"a{i}" for i in range(1, len(plan) + 1)]
    by_description = {a.description: a for a in plan}
    assert [a.kind for a in plan] == ["create-venv", "install-prefect", "create-directory", "install-service", "set-parameter", "start-service", "install-service", "start-service", "wait-healthy"]
    # The shared PREFECT_HOME is created once; the worker's install waits for pip like the server's.
    assert by_description[pip.description].depends_on == ["a1"]
    assert by_description["install-service PrefectWorker"].depends_on == ["a2"]
    assert by_description["start-service PrefectWorker"].depends_on == [by_description["install-service PrefectWorker"].id]
    assert plan[-1].depends_on == ids[:-1] and plan[-1].impact == "Low"


def test_nothing_to_do_is_an_empty_plan_without_a_wait():
    assert compose([], [[], []], None) == []


def test_the_worker_starts_after_a_health_gate_of_the_server_it_needs():
    server = _service("PrefectServer", "create-directory", "install-service", "start-service")
    worker = _service("PrefectWorker", "install-service", "start-service")
    plan = compose([], [gate(server, "PrefectServer", 90), worker], None)
    assert [a.kind for a in plan] == ["create-directory", "install-service", "start-service", "wait-healthy", "install-service", "start-service"]
    assert plan[3].depends_on == ["a1", "a2", "a3"] and plan[3].target == "PrefectServer" and "90 s" in plan[3].description
    # A server that is not started by the plan (it runs already) gets no gate.
    assert gate(_service("PrefectServer", "set-parameter", "write-marker"), "PrefectServer", 90)[-1].kind == "write-marker"


def test_the_fleet_examples_name_the_venv_python_the_stack_makes_on_windows():
    """The examples' PythonPath is the venv that Install-PrefectStack makes for its pinned
    release on a default Windows machine: a path of their own would point DSC at nothing."""
    import re

    from fixtures.common import REPO_ROOT
    from prefectwin.stack.plan import PINNED_PREFECT

    made = venv_python(default_venv("C:\\ProgramData\\PrefectWin", PINNED_PREFECT, "windows"), "windows")
    named = set()
    for example in ("examples/Fleet.psd1", "examples/ServerAndWorker.ps1"):
        text = (REPO_ROOT / example).read_text(encoding="utf-8")
        named |= set(re.findall(r"PythonPath\s*=\s*'([^']+)'", text))
    assert named == {made}


def test_every_first_action_of_the_worker_waits_for_the_gate_so_declining_it_skips_the_worker():
    from prefectwin.change.model import Plan, select

    server = _service("PrefectServer", "create-directory", "install-service", "start-service")
    worker = _service("PrefectWorker", "create-directory", "install-service", "set-parameter", "start-service")
    worker[1] = worker[1].model_copy(update={"depends_on": [worker[0].id]})
    plan = compose([], [gate(server, "PrefectServer", 90), worker], None)
    gate_id = next(a.id for a in plan if a.kind == "wait-healthy")
    worker_ids = [a.id for a in plan if a.target == "PrefectWorker"]
    # The worker's own folder is the server's (created once): its install waits for that and the gate.
    assert next(a for a in plan if a.description == "install-service PrefectWorker").depends_on == ["a1", gate_id]
    whole = Plan(id="p", actions=plan, fingerprint="f")
    _, skipped = select(whole, [a.id for a in plan if a.id != gate_id])
    assert set(worker_ids) <= {a.id for a in skipped}
    server_install = next(a.id for a in plan if a.description == "install-service PrefectServer")
    _, skipped = select(whole, [a.id for a in plan if a.id != server_install])
    assert set(worker_ids) <= {a.id for a in skipped}
