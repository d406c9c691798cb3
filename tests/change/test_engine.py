"""The one change engine: confirm by id with dependencies, the journal written before each step
and without secrets, rollback, and plans by id (PlanStale) through the real request handler."""
from __future__ import annotations

import json
import os

import pytest
from pydantic import SecretStr

import prefectwin.system as system
from fakes.services import NSSM_PATH, FakeServiceAdapter
from prefectwin.change import engine, journal, session
from prefectwin.change.engine import NotReversible, Steps
from prefectwin.change.model import Action, new_plan, select
from prefectwin.errors import ApplyFailed
from prefectwin.events import SilentEvents
from prefectwin.serve import answer
from prefectwin.services.plan import plan_install
from prefectwin.services.state import read_state
from service_helpers import apply_plan, windows_spec


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECTWIN_DATA_DIR", str(tmp_path / "data"))
    session.forget_all()
    yield tmp_path / "data"
    session.forget_all()


def records(data_dir) -> list[dict]:
    folder = data_dir / "journal"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def plan_of(*specs: tuple[str, list[str]]):
    return new_plan([Action(id=i, kind="k", description=f"step {i}", depends_on=d) for i, d in specs], {})


# -- confirming by id ----------------------------------------------------------------------------
def test_a_declined_action_skips_what_depends_on_it_and_nothing_else():
    plan = plan_of(("a1", []), ("a2", ["a1"]), ("a3", []), ("a4", ["a2", "a3"]))
    run, skipped = select(plan, ["a2", "a3", "a4"])
    assert [a.id for a in run] == ["a3"] and [a.id for a in skipped] == ["a1", "a2", "a4"]
    assert [a.id for a in select(plan, None)[0]] == ["a1", "a2", "a3", "a4"]


def test_confirming_an_id_the_plan_does_not_have_is_the_callers_mistake():
    with pytest.raises(Exception) as raised:
        select(plan_of(("a1", [])), ["a9"])
    assert raised.value.code == "InvalidRequest" and raised.value.target == "apply.confirm"


# -- the journal -----------------------------------------------------------------------------------
def _recording_steps(seen: list, data_dir, fail_at: str | None = None) -> Steps:
    def perform(action, runtime):
        [record] = records(data_dir)
        seen.append((action.id, record["progress"].get(action.id)))
        if action.id == fail_at:
            raise OSError("disk full")

    def inverse(action):
        if action.kind == "undo":
            raise NotReversible("an undo")
        return Action(id=f"undo-{action.id}", kind="undo", description=f"undo {action.id}")

    return Steps(module="tests", perform=perform, inverse=inverse)


def test_each_step_is_journaled_as_started_before_it_runs_and_the_record_goes_when_done(data_dir):
    seen: list = []
    ran = engine.apply(plan_of(("a1", []), ("a2", [])), steps=_recording_steps(seen, data_dir), runtime=None, events=SilentEvents(), command="x.y")
    assert [a.id for a in ran] == ["a1", "a2"] and seen == [("a1", "started"), ("a2", "started")]
    assert records(data_dir) == []


def test_a_failing_step_rolls_back_the_done_ones_in_reverse_and_removes_the_record(data_dir):
    seen: list = []
    with pytest.raises(ApplyFailed) as raised:
        engine.apply(plan_of(("a1", []), ("a2", []), ("a3", [])), steps=_recording_steps(seen, data_dir, fail_at="a3"), runtime=None, events=SilentEvents())
    assert [entry.get("undo") for entry in raised.value.details[1:]] == ["undo a2", "undo a1"]
    assert "disk full" in raised.value.message and records(data_dir) == []


def test_the_journal_folder_is_restricted_through_the_adapter_before_the_first_record(data_dir):
    from fakes.adapter import FakeAdapter

    fake = FakeAdapter()
    seen: list = []

    def perform(action, runtime):
        seen.append([c.name for c in fake.calls])

    system.use_adapter(fake)
    try:
        engine.apply(plan_of(("a1", [])), steps=Steps(module="tests", perform=perform, inverse=lambda a: None), runtime=None, events=SilentEvents(), command="x.y")
    finally:
        system.use_adapter(None)
    folder = str(data_dir / "journal")
    assert [(c.name, c.args) for c in fake.calls] == [("restrict_to_administrators", (folder,))]
    assert seen == [["restrict_to_administrators"]]  # already when the first step ran


def test_the_posix_adapter_restricts_a_folder_to_its_owner(tmp_path):
    import stat

    from prefectwin.system.posix import PosixAdapter

    folder = tmp_path / "journal"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    PosixAdapter().restrict_to_administrators(str(folder))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_windows_journal_of_a_process_that_is_not_elevated_stays_in_its_own_profile_unrestricted(monkeypatch, tmp_path):
    from fakes.adapter import FakeAdapter

    monkeypatch.delenv("PREFECTWIN_DATA_DIR")
    monkeypatch.setattr(journal.sys, "platform", "win32")
    monkeypatch.setenv("ProgramData", str(tmp_path / "PD"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "LAD"))
    for admin, folder, restricted in ((False, tmp_path / "LAD" / "PrefectWin" / "journal", False), (True, tmp_path / "PD" / "PrefectWin" / "journal", True)):
        fake = FakeAdapter(returns={"is_admin": admin})
        system.use_adapter(fake)
        try:
            assert journal.journal_dir() == str(folder)
            journal.Journal.begin(plan_id=f"p{admin}", command="x.y", summary="s", steps="tests", context={}, actions=[]).close()
        finally:
            system.use_adapter(None)
        assert ("restrict_to_administrators" in fake.names()) is restricted, fake.names()
        assert folder.is_dir()


def test_the_journal_never_holds_a_secret():
    url = "postgresql+asyncpg://prefect:Pa55word@db:5432/prefect"
    data = {
        "password": SecretStr("hunter2"),
        "values": ["PREFECT_HOME=C:\\P", f"PREFECT_SERVER_DATABASE_CONNECTION_URL={url}", "MY_TOKEN=abc", "PLAIN=ok"],
        "previous": [url],
        "text": "mentions topsecret inside",
        "authString": "admin:pw",
        "port": 4200,
    }
    redacted = journal.redact(data, ["topsecret"])
    text = json.dumps(redacted)
    for secret in ("hunter2", "Pa55word", "abc", "topsecret", "admin:pw"):
        assert secret not in text
    assert redacted["values"][0] == "PREFECT_HOME=C:\\P" and redacted["values"][3] == "PLAIN=ok" and redacted["port"] == 4200
    assert journal.contains_secret(redacted["values"]) and not journal.contains_secret(redacted["port"])


def test_the_data_folder_follows_the_override_and_the_platform(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECTWIN_DATA_DIR", str(tmp_path))
    assert journal.journal_dir() == os.path.join(str(tmp_path), "journal")
    monkeypatch.delenv("PREFECTWIN_DATA_DIR")
    monkeypatch.setattr(journal.sys, "platform", "win32")
    monkeypatch.setenv("ProgramData", "D:\\PD")
    assert journal.data_dir() == os.path.join("D:\\PD", "PrefectWin")


# -- plans by id through the request handler (a serve session keeps them) -------------------------
@pytest.fixture
def machine():
    adapter = FakeServiceAdapter()
    spec = windows_spec(open_firewall=True, bind_address="0.0.0.0", allow_anonymous=True)
    apply_plan(plan_install(spec, read_state(spec, adapter), start=True), adapter, nssm=NSSM_PATH, events=SilentEvents())
    adapter.calls.clear()
    previous = system._override
    system.use_adapter(adapter)
    yield adapter
    system.use_adapter(previous)


def serve(request: dict) -> tuple[dict, list[dict]]:
    events: list[dict] = []
    response = answer(json.dumps({"id": 1, "protocol": 1, **request}).encode(), events.append)
    return response, events


UNINSTALL = {"command": "service.uninstall", "params": {"name": "PrefectServer"}}


def _shown(result: dict) -> dict:
    return {"fingerprint": result["fingerprint"], "actions": result["actions"]}


def test_a_what_if_answer_carries_the_plan_id_and_each_actions_id_and_dependencies(machine):
    response, _ = serve({**UNINSTALL, "whatIf": True})
    result = response["result"]
    assert result["planId"] and result["fingerprint"]
    assert [(a["id"], a["kind"], a["dependsOn"]) for a in result["actions"]] == [
        ("a1", "stop-service", []),
        ("a2", "remove-firewall-rule", []),
        # the grants Install made (Modify on PREFECT_HOME and the logs, read on the interpreter)
        ("a3", "revoke-access", ["a1"]),
        ("a4", "revoke-access", ["a1"]),
        ("a5", "revoke-access", ["a1"]),
        ("a6", "remove-service", ["a1"]),
    ]
    assert machine.changing_calls() == []


def test_apply_by_id_runs_the_kept_plan_and_declining_skips_only_what_depends(machine):
    planned, _ = serve({**UNINSTALL, "whatIf": True})
    reads = len(machine.calls)
    response, events = serve({**UNINSTALL, "apply": {"planId": planned["result"]["planId"], "confirm": ["a2", "a6"]}})
    assert response["ok"], response
    assert [a["id"] for a in response["result"]["actions"]] == ["a2"]
    assert machine.changing_calls() == ["remove_firewall_rule"]
    assert "prefectserver" in machine.services and machine.firewall == {}
    assert not any(c.name == "find_nssm" for c in machine.calls[reads:]), "no second planning"
    assert any("Skipped" in e.get("message", "") and "Remove service" in e["message"] for e in events)


def test_a_kept_plan_whose_machine_changed_is_refused_with_plan_stale(machine):
    planned, _ = serve({**UNINSTALL, "whatIf": True})
    machine.services["prefectserver"].status = "Stopped"
    response, _ = serve({**UNINSTALL, "apply": {"planId": planned["result"]["planId"]}})
    error = response["error"]
    assert (error["code"], error["category"], error["target"]) == ("PlanStale", "InvalidOperation", "apply.planId")
    assert "run the command again" in error["remediation"].lower() and machine.changing_calls() == []


def test_a_kept_plan_is_applied_only_to_the_request_it_was_made_for(machine):
    planned, _ = serve({**UNINSTALL, "whatIf": True})
    other = {"command": "service.uninstall", "params": {"name": "PrefectServer", "removeLogs": True}}
    response, _ = serve({**other, "apply": {"planId": planned["result"]["planId"]}})
    assert response["error"]["code"] == "PlanStale" and machine.changing_calls() == []


def test_an_unknown_plan_id_re_plans_and_runs_only_the_plan_that_was_shown(machine):
    planned, _ = serve({**UNINSTALL, "whatIf": True})
    shown = _shown(planned["result"])
    session.forget_all()  # as a new backend process would be
    machine.firewall.clear()  # the machine changed: planning again gives another plan
    stale, _ = serve({**UNINSTALL, "apply": {"planId": "feedfacecafe", "plan": shown}})
    assert stale["error"]["code"] == "PlanStale" and stale["error"]["target"] == "apply.plan" and machine.changing_calls() == []
    again, _ = serve({**UNINSTALL, "whatIf": True})
    session.forget_all()
    response, _ = serve({**UNINSTALL, "apply": {"planId": "feedfacecafe", "plan": _shown(again["result"])}})
    assert response["ok"] and machine.changing_calls() == ["stop_service", "revoke_modify", "revoke_modify", "revoke_read_execute", "remove_service"]


@pytest.mark.parametrize(
    "request_, target",
    [
        ({**UNINSTALL, "whatIf": True, "apply": {"planId": "x"}}, "apply"),
        ({"command": "service.get", "params": {}, "apply": {"planId": "x"}}, "apply"),
        ({**UNINSTALL, "apply": {"planId": "x", "extra": 1}}, "apply.extra"),
        ({**UNINSTALL, "apply": {"planId": ""}}, "apply.planId"),
    ],
)
def test_a_malformed_apply_is_an_invalid_request(machine, request_, target):
    response, _ = serve(request_)
    assert response["error"]["code"] == "InvalidRequest" and response["error"]["target"] == target
    assert machine.changing_calls() == []
