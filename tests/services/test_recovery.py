"""Logs that do not fill the disk, and crash loops that are visible and bounded.

- Retention: which rotated copies go (pure), planned by service.install (so -WhatIf lists
  them) and really deleted, on real files.
- Failure actions: planned on install, applied, undone when a later step fails (stateful
  fake), and through the Windows adapter to ChangeServiceConfig2W (ctypes against a fake
  advapi32) and back from the registry's FailureActions value.
- Crash facts: RestartCount, LastExitCode, LastStartTime and Unhealthy with the stderr tail,
  from NSSM's events (fake adapter; never claimed to have run on Windows).
"""
from __future__ import annotations

import io
import json
import os
import struct
import time
from pathlib import Path

import pytest

import prefectwin.system as system
from fakes.service_dotnet import FakeServiceDotNet
from fakes.services import FakeService, FakeServiceAdapter
from prefectwin.events import Events, SilentEvents
from prefectwin.rpc import handle
from prefectwin.services import crashes, retention
from service_helpers import apply_plan
from prefectwin.services.plan import plan_install
from prefectwin.services.state import read_state
from prefectwin.system.paths import LocalPaths
from prefectwin.system.windows import WindowsAdapter
from prefectwin.system.windows_recovery import decode_failure_actions, event_query
from service_helpers import install_params, windows_spec
from prefectwin.services.spec import build_spec

DAY = 86_400


def posix_spec(home: Path, **values):
    return build_spec(install_params(prefect_home=str(home), **values), python="/usr/bin/python3", default_home=str(home), host="HOST", flavor="posix")


# -- retention --------------------------------------------------------------------------------
def test_retention_keeps_the_newest_and_drops_the_too_old():
    now = 100 * DAY
    copies = [(f"c{i}", now - i * DAY) for i in range(6)]  # c0 newest
    assert retention.expired(copies, keep=3, days=0, now=now) == ["c5", "c4", "c3"]
    assert retention.expired(copies, keep=10, days=2, now=now) == ["c5", "c4", "c3"]
    assert retention.expired(copies, keep=10, days=0, now=now) == []


def make_rotated(log_dir: Path, stem: str, ages_days: list[float]) -> list[Path]:
    log_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for index, age in enumerate(ages_days):
        path = log_dir / f"{stem}-20260301T10{index:02d}00.000.log"
        path.write_text(f"copy {index}\n", encoding="utf-8")
        stamp = time.time() - age * DAY
        os.utime(path, (stamp, stamp))
        made.append(path)
    return made


class _Files(LocalPaths, FakeServiceAdapter):
    """The stateful fake, except that files and directories are the real ones (LocalPaths)."""


def test_install_plans_the_retention_and_applying_it_really_deletes(tmp_path):
    home = tmp_path / "home"
    logs = home / "logs"
    old = make_rotated(logs, "PrefectServer.stderr", [40, 5, 4, 3, 2, 1])  # 40 days: too old; 6 > keep 4
    kept_other = make_rotated(logs, "PrefectServer.stdout", [1])
    live = logs / "PrefectServer.stderr.log"
    live.write_text("live\n", encoding="utf-8")
    unrelated = logs / "notes-20260301T100000.000.txt"
    unrelated.write_text("mine\n", encoding="utf-8")
    spec = posix_spec(home, log_retention_count=4, log_retention_days=30)
    adapter = _Files()
    actions = plan_install(spec, read_state(spec, adapter))
    prune = [a for a in actions if a.kind == "remove-path"]
    assert [Path(a.target) for a in prune] == [old[0], old[1]]
    assert all("retention: keep 4, at most 30 days old" in a.description and a.impact == "Low" for a in prune)
    apply_plan(actions, adapter, nssm="nssm", events=SilentEvents())
    assert not old[0].exists() and not old[1].exists()
    assert all(p.exists() for p in old[2:] + kept_other + [live, unrelated])
    # Nothing left to prune: the next plan has no deletions.
    assert not [a for a in plan_install(spec, read_state(spec, adapter)) if a.kind == "remove-path"]


def test_rotation_and_retention_settings_reach_nssm_and_the_marker(tmp_path):
    spec = posix_spec(tmp_path, log_rotate_seconds=0, log_retention_count=3, log_retention_days=0)
    assert spec.nssm_parameters()["AppRotateSeconds"] == ("0",)
    assert spec.marker_data()["logRetention"] == {"count": 3, "days": 0}
    default = posix_spec(tmp_path)
    assert default.nssm_parameters()["AppRotateSeconds"] == ("86400",) and default.retention_count == 10
    # Failure actions and the retention task are Windows's: a POSIX spec (the stand-in) has neither.
    assert default.failure_actions == () and default.prune_command == ()


def test_bad_retention_values_are_refused_naming_the_parameter(tmp_path):
    for field, value in (("logRetentionCount", 0), ("logRotateSeconds", -1), ("logRetentionDays", 40000)):
        params = {"name": "PrefectServer", "role": "Server", "prefectHome": str(tmp_path), field: value}
        response, _ = handle(json.dumps({"protocol": 1, "command": "service.install", "params": params, "whatIf": True}).encode(), Events(io.StringIO()))
        assert response["error"]["target"] == f"params.{field}"


# -- failure actions -------------------------------------------------------------------------
def test_failure_actions_are_planned_applied_and_then_unchanged():
    adapter = FakeServiceAdapter()
    spec = windows_spec()
    actions = plan_install(spec, read_state(spec, adapter))
    failure = next(a for a in actions if a.kind == "set-failure-actions")
    assert "restart after 60 s, restart after 120 s, then nothing; reset the count after 86400 s" in failure.description
    apply_plan(actions, adapter, nssm="nssm", events=SilentEvents())
    assert adapter.services["prefectserver"].parameters["FailureActions"] == ("reset=86400", "restart/60000", "restart/120000", "none/0")
    assert not [a for a in plan_install(spec, read_state(spec, adapter)) if a.kind == "set-failure-actions"]


def test_changed_failure_actions_are_restored_when_a_later_step_fails():
    adapter = FakeServiceAdapter()
    spec = windows_spec()
    apply_plan(plan_install(spec, read_state(spec, adapter)), adapter, nssm="nssm", events=SilentEvents())
    adapter.services["prefectserver"].parameters["FailureActions"] = ("reset=0", "restart/1000")
    before = adapter.snapshot()
    actions = plan_install(spec, read_state(spec, adapter), start=True)
    assert [a.kind for a in actions] == ["set-failure-actions", "start-service"]
    adapter.fail_at_change = adapter.changes + 2  # the start fails after the failure actions changed
    with pytest.raises(Exception) as failed:
        apply_plan(actions, adapter, nssm="nssm", events=SilentEvents())
    assert "Restore the failure actions" in str(failed.value.details)
    assert adapter.snapshot() == before


def test_the_windows_adapter_sets_failure_actions_through_change_service_config2_and_reads_them_back():
    net = FakeServiceDotNet()
    net.service("PrefectServer", status="Stopped", parameters={"Application": "C:\\py\\python.exe"}, Start=2)
    windows = WindowsAdapter(net=net)
    windows.set_failure_actions("PrefectServer", 86400, [("restart", 60000), ("restart", 120000), ("none", 0)])
    call = next(args for name, args in net.calls if name == "ChangeServiceConfig2W")
    assert call == ("PrefectServer", 2, 86400, ((1, 60000), (1, 120000), (0, 0)))
    assert windows.read_service("PrefectServer").parameters["FailureActions"] == ("reset=86400", "restart/60000", "restart/120000", "none/0")


def test_the_registry_blob_decodes_and_garbage_is_absent():
    blob = struct.pack("<5I", 3600, 0, 0, 1, 20) + struct.pack("<2I", 2, 5000)
    assert decode_failure_actions(blob) == ("reset=3600", "reboot/5000")
    assert decode_failure_actions(b"\x01\x02") is None and decode_failure_actions(None) is None


# -- crash facts and health --------------------------------------------------------------------
def exited(when: float, code: int, name: str = "PrefectServer", record: int = 0) -> dict:
    return {
        "time": when, "level": "Error", "eventId": 1, "recordId": record,
        "message": f"Program C:\\py\\python.exe for service {name} exited with return code {code}.",
        "strings": ["C:\\py\\python.exe", name, str(code)],
    }


def started(when: float, name: str = "PrefectServer") -> dict:
    return {
        "time": when, "level": "Information", "eventId": 2, "recordId": 0,
        "message": f"Started C:\\py\\python.exe -m prefect server start for service {name} in C:\\ProgramData\\Prefect.",
        "strings": ["C:\\py\\python.exe", "-m prefect server start", name, "C:\\ProgramData\\Prefect"],
    }


def test_crash_facts_count_exits_and_find_the_last_start():
    now = 10 * DAY
    events = [exited(now - 2 * DAY, 9), started(now - 600), exited(now - 500, 1), started(now - 480), exited(now - 300, 1), exited(now - 100, 2), started(now - 90)]
    facts = crashes.crash_facts(events, "PrefectServer", now=now)
    assert (facts.restart_count, facts.last_exit_code, facts.last_start, facts.recent_exits) == (3, 2, now - 90, 3)
    assert facts.looping
    assert not crashes.crash_facts(events[:4], "PrefectServer", now=now).looping
    assert crashes.crash_facts([exited(now, 1, name="Other")], "PrefectServer", now=now).restart_count == 0


@pytest.fixture
def crashing(tmp_path):
    stderr = tmp_path / "PrefectServer.stderr.log"
    stderr.write_text('Traceback (most recent call last):\n  File "x.py", line 1, in <module>\nsqlite3.OperationalError: database is locked\n', encoding="utf-8")
    marker = json.dumps({"managedBy": "PrefectWin", "role": "Server", "apiUrl": "http://127.0.0.1:9/api", "logPaths": [str(tmp_path / "o.log"), str(stderr)]})
    fake = FakeServiceAdapter(services=[FakeService(name="PrefectServer", parameters={"Application": ("C:\\py\\python.exe",)}, marker=marker, status="Running", pid=10, app_pids=(11,))])
    now = time.time()
    fake.events = [started(now - 200), exited(now - 150, 1, record=1), started(now - 140), exited(now - 90, 1, record=2), started(now - 80), exited(now - 30, 3, record=3), started(now - 20)]
    previous = system._override
    system.use_adapter(fake)
    yield fake, now
    system.use_adapter(previous)


def test_get_shows_restarts_exit_code_and_start_and_a_crash_loop_is_unhealthy_with_the_stderr_tail(crashing):
    fake, now = crashing
    response, _ = handle(json.dumps({"protocol": 1, "command": "service.get", "params": {}}).encode(), Events(io.StringIO()))
    info = response["result"][0]
    assert (info["restartCount"], info["lastExitCode"]) == (3, 3)
    assert info["lastStartTime"] == crashes.iso(now - 20)
    assert info["health"] == "Unhealthy"
    assert info["healthDetail"].startswith("crash loop: the application exited 3 times in the last 15 minutes (last exit code 3)")
    assert "sqlite3.OperationalError: database is locked" in info["healthDetail"]


def test_a_crash_looping_services_stderr_tail_is_shown_without_its_secrets(crashing, tmp_path):
    fake, _ = crashing
    service = fake.services["prefectserver"]
    service.parameters["AppEnvironmentExtra"] = ("PREFECT_API_AUTH_STRING=admin:Tail-Secret-7",)
    stderr = Path(json.loads(service.marker)["logPaths"][1])
    stderr.write_text(
        "Traceback (most recent call last):\n"
        "sqlalchemy.exc.OperationalError: could not connect to postgresql+asyncpg://prefect:Db-Secret-9@db01:5432/prefect\n"
        "httpx.HTTPStatusError: 401 for auth admin:Tail-Secret-7\n",
        encoding="utf-8",
    )
    response, _ = handle(json.dumps({"protocol": 1, "command": "service.get", "params": {}}).encode(), Events(io.StringIO()))
    detail = response["result"][0]["healthDetail"]
    assert detail.startswith("crash loop") and "db01:5432" in detail
    assert "Db-Secret-9" not in json.dumps(response) and "Tail-Secret-7" not in json.dumps(response)


def test_a_service_that_answers_is_healthy_whatever_it_went_through(crashing):
    """A service fixed after a crash loop must pass a restart's or an upgrade's health gate at
    once, not stay Unhealthy until its old exits leave the window."""
    import http.server
    import threading

    class Healthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server interface
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"true")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fake, _ = crashing
        service = fake.services["prefectserver"]
        marker = json.loads(service.marker)
        service.marker = json.dumps({**marker, "apiUrl": f"http://127.0.0.1:{server.server_address[1]}/api"})
        response, _ = handle(json.dumps({"protocol": 1, "command": "service.get", "params": {}}).encode(), Events(io.StringIO()))
        info = response["result"][0]
        assert (info["restartCount"], info["health"]) == (3, "Healthy"), info
    finally:
        server.shutdown()


def test_events_that_cannot_be_read_leave_the_facts_unknown(crashing):
    fake, _ = crashing
    fake.fail_on["read_service_events"] = OSError("the event log service is not running")
    response, _ = handle(json.dumps({"protocol": 1, "command": "service.get", "params": {}}).encode(), Events(io.StringIO()))
    info = response["result"][0]
    assert info["restartCount"] is None and info["health"] == "Unhealthy" and not info["healthDetail"].startswith("crash loop")


def test_the_event_query_filters_on_nssm_and_time():
    assert event_query(None) == "*[System[Provider[@Name='nssm']]]"
    assert event_query(0.5) == "*[System[Provider[@Name='nssm'] and TimeCreated[@SystemTime>'1970-01-01T00:00:00.500Z']]]"


# -- the daily retention task ------------------------------------------------------------------
def test_install_registers_the_daily_prune_task_and_a_failure_removes_it_again(tmp_path):
    adapter = FakeServiceAdapter()
    spec = build_spec(install_params(), python="C:\\Py\\python.exe", default_home="C:\\ProgramData\\Prefect", host="HOST", flavor="windows", backend_python="/opt/pw/python")
    actions = plan_install(spec, read_state(spec, adapter), start=True)
    task = next(a for a in actions if a.kind == "register-task")
    assert task.target == "\\PrefectWin\\PrefectServer-logs"
    assert (task.data["command"], task.data["arguments"]) == ("/opt/pw/python", "-X utf8 -m prefectwin prune-logs PrefectServer")
    apply_plan(actions, adapter, nssm="nssm", events=SilentEvents())
    assert adapter.tasks == {task.target: ("/opt/pw/python", "-X utf8 -m prefectwin prune-logs PrefectServer")}
    assert not [a for a in plan_install(spec, read_state(spec, adapter)) if a.kind == "register-task"]

    fresh = FakeServiceAdapter()
    steps = plan_install(spec, read_state(spec, fresh), start=True)
    fresh.fail_at_change = [a.kind for a in steps].index("register-task") + 2  # the start after it fails
    with pytest.raises(Exception):
        apply_plan(steps, fresh, nssm="nssm", events=SilentEvents())
    assert fresh.tasks == {} and fresh.services == {}


def test_uninstall_removes_the_task(tmp_path):
    adapter = FakeServiceAdapter()
    spec = build_spec(install_params(), python="C:\\Py\\python.exe", default_home="C:\\ProgramData\\Prefect", host="HOST", flavor="windows", backend_python="/opt/pw/python")
    apply_plan(plan_install(spec, read_state(spec, adapter)), adapter, nssm="nssm", events=SilentEvents())
    from prefectwin.services.plan import plan_uninstall

    steps = plan_uninstall(adapter.read_service("PrefectServer"), firewall_port=None, stop_timeout_sec=5, log_files=[], database_files=[], log_task="\\PrefectWin\\PrefectServer-logs")
    assert [a.kind for a in steps] == ["remove-task", "remove-service"]
    apply_plan(steps, adapter, nssm="nssm", events=SilentEvents())
    assert adapter.tasks == {}


def test_prune_logs_command_applies_the_markers_retention_to_real_files(tmp_path, capsys):
    from prefectwin import cli

    logs = tmp_path / "logs"
    copies = make_rotated(logs, "PrefectServer.stderr", [3, 2, 1])
    marker = json.dumps({"managedBy": "PrefectWin", "role": "Server", "logPaths": [str(logs / "PrefectServer.stdout.log"), str(logs / "PrefectServer.stderr.log")], "logRetention": {"count": 2, "days": 0}})
    adapter = _Files(services=[FakeService(name="PrefectServer", parameters={"Application": ("C:\\py\\python.exe",)}, marker=marker)])
    previous = system._override
    system.use_adapter(adapter)
    try:
        assert cli.main(["prune-logs", "PrefectServer"]) == 0
        assert capsys.readouterr().out.splitlines() == [str(copies[0])]
        assert not copies[0].exists() and copies[1].exists() and copies[2].exists()
        assert cli.main(["prune-logs", "Nobody"]) == 1
        assert json.loads(capsys.readouterr().err)["code"] == "NotFound"
    finally:
        system.use_adapter(previous)


def test_the_windows_adapter_drives_schtasks_by_argument_list(tmp_path):
    net = FakeServiceDotNet()
    windows = WindowsAdapter(net=net)
    runs: list[list[str]] = []
    xml = (
        '<?xml version="1.0" encoding="UTF-16"?><Task xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task"><Actions Context="Author">'
        '<Exec><Command>"C:\\Program Files\\Py\\python.exe"</Command><Arguments>-X utf8 -m prefectwin prune-logs PrefectServer</Arguments></Exec></Actions></Task>'
    )

    def run(argv):
        runs.append(argv)
        return (0, xml) if "/Query" in argv else (0, "")

    windows._run = run
    assert windows.scheduled_task("\\PrefectWin\\PrefectServer-logs") == ("C:\\Program Files\\Py\\python.exe", "-X utf8 -m prefectwin prune-logs PrefectServer")
    windows.register_scheduled_task("\\PrefectWin\\PrefectServer-logs", "C:\\Program Files\\Py\\python.exe", "-X utf8 -m prefectwin prune-logs PrefectServer")
    create = runs[-1]
    assert create[1:6] == ["/Create", "/F", "/TN", "\\PrefectWin\\PrefectServer-logs", "/SC"] and create[create.index("/RU") + 1] == "SYSTEM"
    assert create[-1] == '"C:\\Program Files\\Py\\python.exe" -X utf8 -m prefectwin prune-logs PrefectServer'
    windows._run = lambda argv: (1, "ERROR: The system cannot find the file specified.")
    assert windows.scheduled_task("\\PrefectWin\\Nope-logs") is None
    windows.remove_scheduled_task("\\PrefectWin\\Nope-logs")  # a missing task is no error


class _EventRecord:
    def __init__(self, seconds: float, level: int, record: int, strings: list[str], message: str | None) -> None:
        from types import SimpleNamespace

        self.TimeCreated = SimpleNamespace(ToUniversalTime=lambda: SimpleNamespace(Subtract=lambda epoch: SimpleNamespace(TotalSeconds=seconds)))
        self.Level, self.Id, self.RecordId = level, 1, record
        self.Properties = [SimpleNamespace(Value=s) for s in strings]
        self._message = message
        self.disposed = False

    def FormatDescription(self):  # noqa: N802
        if self._message is None:
            raise RuntimeError("the message DLL is not registered")
        return self._message

    def Dispose(self):  # noqa: N802
        self.disposed = True


def test_the_windows_adapter_reads_nssm_events_newest_first_and_returns_them_oldest_first():
    from types import SimpleNamespace

    records = [  # EventLogReader with ReverseDirection: newest first
        _EventRecord(300, 2, 3, ["C:\\py\\python.exe", "PrefectServer", "1"], "Program C:\\py\\python.exe for service PrefectServer exited with return code 1."),
        _EventRecord(200, 4, 2, ["Other"], "Other service"),
        _EventRecord(100, 4, 1, ["C:\\py\\python.exe", "args", "PrefectServer", "C:\\home"], None),
    ]
    queries = []

    class Query:
        def __init__(self, log, kind, xpath):
            queries.append((log, kind, xpath))
            self.ReverseDirection = False

    class Reader:
        def __init__(self, query):
            assert query.ReverseDirection is True
            self.pending = list(records)

        def ReadEvent(self):  # noqa: N802
            return self.pending.pop(0) if self.pending else None

        def Dispose(self):  # noqa: N802
            pass

    net = FakeServiceDotNet()
    net.EventLogQuery, net.EventLogReader, net.PathType, net.Epoch = Query, Reader, SimpleNamespace(LogName="LogName"), "epoch"
    events = WindowsAdapter(net=net).read_service_events("PrefectServer", 50.0, 10)
    assert queries == [("Application", "LogName", event_query(50.0))]
    assert [(e["time"], e["level"], e["recordId"]) for e in events] == [(100.0, "Information", 1), (300.0, "Error", 3)]
    assert events[0]["message"] == "C:\\py\\python.exe args PrefectServer C:\\home"  # no message DLL: the insertion strings
    assert all(r.disposed for r in records)
    assert crashes.crash_facts(events, "PrefectServer", now=400).last_exit_code == 1
