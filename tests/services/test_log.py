"""service.log (Get-PrefectServiceLog): parsing Prefect's log format, tail, since, level, and
following a log across NSSM-style rotation. Real files throughout, real Prefect output (a
real `prefect server start`, and Prefect's own logging setup writing a traceback); the
Application-log events and the service lookup are Windows-only and come from the fake adapter.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import prefectwin.system as system
from fixtures.common import find_free_port
from fixtures.prefect_server import _server_env
from fakes.services import FakeService, FakeServiceAdapter
from prefectwin.events import Events
from prefectwin.rpc import handle
from prefectwin.services import logfiles, logparse
from prefectwin.services.spec import MARKER_VALUE  # noqa: F401 - the marker's registry name, for the reader

PYTHON = sys.executable


def lines_of(text: str) -> list[tuple[int, int, str]]:
    return list(logfiles.iter_lines(text))


def call(command: str, params: dict) -> dict:
    response, _ = handle(json.dumps({"protocol": 1, "command": command, "params": params}).encode(), Events(io.StringIO()))
    return response


# -- parsing -----------------------------------------------------------------------------------
TRACEBACK_LOG = """\
10:00:00.125 | INFO    | prefect.worker - Worker 'w@host' started!
10:00:01.500 | ERROR   | prefect.flow_runs.worker - Failed to submit flow run
Traceback (most recent call last):
  File "/x/worker.py", line 10, in submit
    raise ValueError("boom")
ValueError: boom

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/worker.py", line 12, in submit
RuntimeError: wrapped
10:00:02.000 | WARNING | Flow run 'crimson-fox' - Retrying in 5 s
a line printed by a flow
INFO:     127.0.0.1:5000 - "GET /api/health HTTP/1.1" 200 OK
"""


def test_prefect_lines_become_entries_with_time_level_logger_and_message():
    entries = logparse.parse(lines_of(TRACEBACK_LOG))
    assert [(e.level, e.logger) for e in entries] == [
        ("INFO", "prefect.worker"),
        ("ERROR", "prefect.flow_runs.worker"),
        ("WARNING", "Flow run 'crimson-fox'"),
        (None, None),
        ("INFO", "uvicorn"),
    ]
    assert entries[0].clock == dt.time(10, 0, 0, 125000) and entries[0].message == "Worker 'w@host' started!" and entries[0].raw is None
    assert entries[3].raw == "a line printed by a flow" and entries[3].message == entries[3].raw


def test_a_traceback_with_its_chained_exception_is_one_entry():
    error = logparse.parse(lines_of(TRACEBACK_LOG))[1]
    lines = error.message.splitlines()
    assert lines[0] == "Failed to submit flow run"
    assert lines[1] == "Traceback (most recent call last):" and "ValueError: boom" in lines
    assert lines[-1] == "RuntimeError: wrapped"
    assert "During handling of the above exception, another exception occurred:" in lines


def test_an_uncaught_traceback_without_a_header_stays_one_raw_entry():
    text = "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyError: 'a'\nplain line\n"
    entries = logparse.parse(lines_of(text))
    assert [e.raw for e in entries] == ["Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nKeyError: 'a'", "plain line"]


def test_dates_come_from_the_file_time_and_midnight_is_crossed_backwards():
    text = "23:59:58.000 | INFO    | a - before midnight\n00:00:01.000 | INFO    | a - after midnight\n"
    dated = logparse.assign_dates(logparse.parse(lines_of(text)), dt.datetime(2026, 3, 2, 0, 5))
    assert [e.when for e in dated] == [dt.datetime(2026, 3, 1, 23, 59, 58), dt.datetime(2026, 3, 2, 0, 0, 1)]
    # A modification time a little older than the last line (coarse file-system clocks) is the same day.
    same = logparse.assign_dates(logparse.parse(lines_of("12:00:00.009 | INFO    | a - x\n")), dt.datetime(2026, 3, 2, 12, 0, 0, 5000))
    assert same[0].when == dt.datetime(2026, 3, 2, 12, 0, 0, 9000)


def test_a_full_date_in_the_line_wins():
    text = "2026-01-05 08:00:00.000 | INFO    | a - dated\n"
    dated = logparse.assign_dates(logparse.parse(lines_of(text)), dt.datetime(2026, 3, 2))
    assert dated[0].when == dt.datetime(2026, 1, 5, 8)


def test_select_by_since_and_level():
    dated = logparse.assign_dates(logparse.parse(lines_of(TRACEBACK_LOG)), dt.datetime(2026, 3, 2, 10, 1))
    assert [e.level for e in logparse.select(dated, level="Warning")] == ["ERROR", "WARNING"]
    since = logparse.select(dated, since=dt.datetime(2026, 3, 2, 10, 0, 2))
    # The undated raw line follows the dated entry before it.
    assert [e.logger for e in since] == ["Flow run 'crimson-fox'", None, "uvicorn"]


# -- real Prefect output -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def server_logs(tmp_path_factory, _prefect_db_template) -> tuple[Path, Path]:
    """One real `prefect server start`, its stdout and stderr in two files as NSSM writes them,
    with DEBUG logging so its services' start-up lines are there. Stopped with Ctrl-C once
    they are, so the files hold a whole run, shutdown included, and stay put. It waits for
    the log, not for /api/health, and longer than the shared fixture: only the log matters."""
    home = tmp_path_factory.mktemp("prefect-server-logs")
    template = _prefect_db_template()
    if template is not None:
        shutil.copyfile(template, home / "prefect.db")
    stdout, stderr = home / "PrefectServer.stdout.log", home / "PrefectServer.stderr.log"
    env = _server_env(home, {"PREFECT_LOGGING_LEVEL": "DEBUG", "PREFECT_LOGGING_SERVER_LEVEL": "DEBUG"})
    argv = [PYTHON, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(find_free_port())]
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(argv, env=env, cwd=str(home), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 300
        while " | INFO    | prefect.server" not in stderr.read_text(encoding="utf-8", errors="replace"):
            assert process.poll() is None, f"prefect server start exited with {process.returncode}:\n{stderr.read_text(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, stderr.read_text(errors="replace")[-2000:]
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return stdout, stderr


@pytest.fixture(scope="module")
def prefect_traceback_log(tmp_path_factory) -> Path:
    """stderr of a process that logs through Prefect's own logging configuration (logging.yml),
    including logger.exception: the format and traceback exactly as Prefect writes them."""
    folder = tmp_path_factory.mktemp("prefect-logging")
    path = folder / "flow.stderr.log"
    script = (
        "import logging\n"
        "from prefect.logging.configuration import setup_logging\n"
        "setup_logging()\n"
        "log = logging.getLogger('prefect.prefectwin-test')\n"
        "log.info('first line')\n"
        "try:\n    {}['missing']\nexcept KeyError:\n    log.exception('lookup failed')\n"
        "log.warning('last line')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(folder), PREFECT_LOGGING_COLORS="false", PREFECT_LOGGING_LEVEL="INFO")
    with open(path, "wb") as stderr:
        subprocess.run([PYTHON, "-c", script], env=env, stderr=stderr, stdout=subprocess.DEVNULL, check=True, timeout=120)
    return path


def test_a_real_servers_log_parses_with_the_banner_kept_raw(server_logs):
    stdout, server_log = server_logs
    banner = logfiles.tail(str(stdout), count=None, since=None, level=None)
    assert any(e.raw and "PREFECT_API_URL" in e.raw and e.level is None for e in banner), "the banner's lines are kept as raw entries"
    entries = logfiles.tail(str(server_log), count=None, since=None, level=None)
    parsed = [e for e in entries if e.clock]
    assert any(e.logger.startswith("prefect.server") and e.level == "INFO" for e in parsed)
    assert any(e.logger == "uvicorn" and e.clock is None for e in entries), "uvicorn's own 'INFO:     ...' lines"
    today = dt.datetime.now()
    assert all(abs((e.when - today).total_seconds()) < 3600 for e in parsed), "dated from the file's modification time"
    assert any((e.logger or "").startswith("uvicorn") and e.message.startswith("Finished server process") for e in entries)
    at_least_info = [e for e in entries if e.level in ("INFO", "WARNING", "ERROR", "CRITICAL")]
    assert logfiles.tail(str(server_log), count=3, since=None, level="Info") == at_least_info[-3:]


def test_prefects_own_traceback_is_attached_to_its_entry(prefect_traceback_log):
    entries = logfiles.tail(str(prefect_traceback_log), count=None, since=None, level=None)
    assert [(e.level, e.logger, e.message.splitlines()[0]) for e in entries] == [
        ("INFO", "prefect.prefectwin-test", "first line"),
        ("ERROR", "prefect.prefectwin-test", "lookup failed"),
        ("WARNING", "prefect.prefectwin-test", "last line"),
    ]
    assert entries[1].message.splitlines()[-1] == "KeyError: 'missing'"
    assert logfiles.tail(str(prefect_traceback_log), count=None, since=None, level="Error") == [entries[1]]


def test_the_backend_reads_the_real_server_log(run_rpc, server_logs):
    stdout, stderr = server_logs
    done = run_rpc({"protocol": 1, "command": "service.log", "params": {"path": [str(stdout), str(stderr)], "tail": 2, "level": "Info"}})
    assert done.code == 0, done.response
    entries = done.response["result"]["entries"]
    assert len(entries) == 2 and all(e["level"] in ("INFO", "WARNING", "ERROR", "CRITICAL") and e["stream"] == "Stderr" and e["time"] for e in entries)
    assert [e["message"] for e in entries] == [e.message for e in logfiles.tail(str(stderr), count=2, since=None, level="Info")]
    assert set(entries[0]) == {"time", "level", "logger", "message", "stream", "service", "path", "raw"}


# -- tail over rotated copies ------------------------------------------------------------------
def write(path: Path, text: str, mtime: float | None = None) -> None:
    with open(path, "a", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def test_tail_reaches_into_rotated_copies_when_the_live_file_has_too_few(tmp_path):
    live = tmp_path / "svc.stderr.log"
    write(tmp_path / "svc.stderr-20260301T100000.000.log", "09:00:00.000 | INFO    | a - one\n09:00:01.000 | INFO    | a - two\n")
    write(live, "10:00:00.000 | INFO    | a - three\n")
    assert [e.message for e in logfiles.tail(str(live), count=2, since=None, level=None)] == ["two", "three"]
    assert [e.message for e in logfiles.tail(str(live), count=None, since=None, level=None)] == ["three"]


def test_tail_of_a_big_file_reads_only_its_end(tmp_path):
    live = tmp_path / "big.stdout.log"
    write(live, "".join(f"10:{i // 60 % 60:02d}:{i % 60:02d}.000 | INFO    | a - line {i}\n" for i in range(20000)))
    assert [e.message for e in logfiles.tail(str(live), count=3, since=None, level=None)] == ["line 19997", "line 19998", "line 19999"]


# -- following across rotation -----------------------------------------------------------------
def follow_all(position: logfiles.Position, polls: int = 2) -> tuple[list[str], logfiles.Position]:
    messages: list[str] = []
    for _ in range(polls):
        entries, position = logfiles.follow(position)
        messages.extend(e.message for e in entries)
    return messages, position


def test_follow_carries_on_across_a_rename_and_a_new_file(tmp_path):
    live = tmp_path / "svc.stdout.log"
    write(live, "10:00:00.000 | INFO    | a - old\n")
    position = logfiles.start_position(str(live))
    write(live, "10:00:01.000 | INFO    | a - before rotation\n")
    # NSSM's rotation: rename to a timestamped copy, open a new file.
    os.rename(live, tmp_path / "svc.stdout-20260302T100001.500.log")
    with open(tmp_path / "svc.stdout-20260302T100001.500.log", "a", encoding="utf-8") as old:
        old.write("10:00:01.400 | INFO    | a - last words of the old file\n")
    write(live, "10:00:02.000 | INFO    | a - first in the new file\n")
    messages, position = follow_all(position)
    assert messages == ["before rotation", "last words of the old file", "first in the new file"]
    write(live, "10:00:03.000 | INFO    | a - more\n")
    assert follow_all(position)[0] == ["more"]


def test_follow_starts_again_when_the_file_shrinks(tmp_path):
    live = tmp_path / "svc.stdout.log"
    write(live, "10:00:00.000 | INFO    | a - a long first line that makes the file bigger\n")
    position = logfiles.start_position(str(live))
    with open(live, "w", encoding="utf-8") as handle:  # truncated in place (copy-and-truncate)
        handle.write("10:00:05.000 | INFO    | a - after truncation\n")
    assert follow_all(position)[0] == ["after truncation"]


def test_follow_waits_for_a_traceback_written_in_pieces(tmp_path):
    live = tmp_path / "svc.stderr.log"
    write(live, "")
    position = logfiles.start_position(str(live))
    write(live, "10:00:00.000 | ERROR   | a - failed\nTraceback (most recent call last):\n")
    first, position = logfiles.follow(position)
    assert first == []  # the entry may still grow
    write(live, '  File "x.py", line 1, in f\nValueError: bad\n10:00:01.000 | INFO    | a - next\n')
    entries, position = logfiles.follow(position)
    assert [e.message.splitlines()[-1] for e in entries] == ["ValueError: bad"]
    entries, position = logfiles.follow(position)  # nothing new: the held entry is let go
    assert [e.message for e in entries] == ["next"]
    assert logfiles.follow(position)[0] == []


def test_follow_through_the_backend_with_its_cursor_across_rotation(tmp_path):
    live = tmp_path / "svc.stdout.log"
    write(live, "10:00:00.000 | INFO    | a - existing\n")
    first = call("service.log", {"path": [str(live)], "tail": 1})
    assert [e["message"] for e in first["result"]["entries"]] == ["existing"]
    cursor = first["result"]["cursor"]
    write(live, "10:00:01.000 | INFO    | a - one\n")
    os.rename(live, tmp_path / "svc.stdout-20260302T100001.000.log")
    write(live, "10:00:02.000 | DEBUG   | a - two\n10:00:03.000 | INFO    | a - three\n")
    seen: list[str] = []
    for _ in range(2):
        answer = call("service.log", {"path": [str(live)], "cursor": cursor, "level": "Info"})
        seen.extend(e["message"] for e in answer["result"]["entries"])
        cursor = answer["result"]["cursor"]
    assert seen == ["one", "three"]


def test_bad_input_names_the_parameter(tmp_path):
    live = tmp_path / "x.stdout.log"
    write(live, "x\n")
    cases = [
        ({"path": [str(live)], "since": "yesterday"}, "InvalidArgument", "Since"),
        ({}, "InvalidArgument", "Name"),
        ({"path": [str(live)], "name": ["PrefectServer"]}, "InvalidArgument", "Name"),
        ({"path": [str(tmp_path / "missing.log")]}, "NotFound", "Path"),
        ({"path": [str(live)], "cursor": base64.urlsafe_b64encode(b'{"v":2}').decode()}, "InvalidArgument", "Cursor"),
        ({"path": [str(live)], "tail": -1}, "InvalidRequest", "params.tail"),
    ]
    for params, code, target in cases:
        error = call("service.log", params)["error"]
        assert (error["code"], error["target"]) == (code, target), params
        assert "Traceback" not in error["message"]


def test_since_takes_powershells_round_trip_format(tmp_path):
    live = tmp_path / "x.stdout.log"
    now = dt.datetime.now()
    old, new = now - dt.timedelta(minutes=10), now - dt.timedelta(minutes=1)
    write(live, f"{old:%H:%M:%S}.000 | INFO    | a - old\n{new:%H:%M:%S}.000 | INFO    | a - new\n", mtime=time.time())
    since = (now - dt.timedelta(minutes=5)).astimezone().isoformat(timespec="microseconds")[:-6] + "0+00:00"
    since = (now - dt.timedelta(minutes=5)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "1Z"  # 7 digits, like .NET's 'o'
    if old.date() != now.date() or new.date() != now.date():
        pytest.skip("too close to midnight for a same-day file")
    assert [e["message"] for e in call("service.log", {"path": [str(live)], "since": since})["result"]["entries"]] == ["new"]


# -- a service's logs and NSSM's events (Windows-only parts faked) -------------------------------
@pytest.fixture
def service_adapter(tmp_path):
    stdout, stderr = tmp_path / "PrefectServer.stdout.log", tmp_path / "PrefectServer.stderr.log"
    now = dt.datetime.now()
    if now.hour == 0 and now.minute < 2:
        pytest.skip("too close to midnight for same-day log lines")
    started, broke = now - dt.timedelta(seconds=60), now - dt.timedelta(seconds=30)
    write(stdout, "banner\n")
    write(stderr, f"{started:%H:%M:%S}.000 | INFO    | prefect.server - started\n{broke:%H:%M:%S}.000 | ERROR   | prefect.server - broke\n")
    marker = json.dumps({"managedBy": "PrefectWin", "role": "Server", "logPaths": [str(stdout), str(stderr)]})
    fake = FakeServiceAdapter(services=[FakeService(name="PrefectServer", parameters={"Application": ("C:\\py\\python.exe",)}, marker=marker)])
    base = time.time() - 44
    fake.events = [
        {"time": base - 1, "level": "Error", "eventId": 1, "recordId": 7, "message": "Program python.exe for service PrefectServer exited with return code 3.", "strings": ["python.exe", "PrefectServer", "3"]},
        {"time": base - 1, "level": "Information", "eventId": 2, "recordId": 8, "message": "Other service event", "strings": ["Other"]},
    ]
    previous = system._override
    system.use_adapter(fake)
    yield fake, stdout, stderr
    system.use_adapter(previous)


def test_a_service_by_name_merges_its_logs_and_its_nssm_events(service_adapter):
    fake, stdout, stderr = service_adapter
    result = call("service.log", {"name": ["PrefectServer"]})["result"]
    streams = [(e["stream"], e["message"].split(".")[0]) for e in result["entries"]]
    assert ("EventLog", "Program python") in streams and ("Stderr", "broke") in streams and ("Stdout", "banner") in streams
    assert all(e["service"] == "PrefectServer" for e in result["entries"])
    assert not any("Other service" in e["message"] for e in result["entries"])
    only_errors = call("service.log", {"name": ["PrefectServer"], "stream": ["Stderr", "EventLog"], "level": "Error"})["result"]["entries"]
    assert [(e["stream"], e["level"]) for e in only_errors] == [("EventLog", "ERROR"), ("Stderr", "ERROR")]
    # Following: an event already returned is not returned again; a new one is.
    cursor = result["cursor"]
    fake.events.append({"time": time.time(), "level": "Warning", "eventId": 3, "recordId": 9, "message": "Service PrefectServer ran for less than 15000 milliseconds.", "strings": ["PrefectServer"]})
    again = call("service.log", {"name": ["PrefectServer"], "cursor": cursor})["result"]["entries"]
    assert [e["message"][:20] for e in again] == ["Service PrefectServe"]


def test_a_service_name_off_windows_is_not_supported(run_rpc):
    done = run_rpc({"protocol": 1, "command": "service.log", "params": {"name": ["PrefectServer"]}})
    assert done.response["error"]["code"] == "NotSupported"


# -- the tail and the follow meet exactly: every line once ---------------------------------------
def _follow_messages(cursor: str, paths: list[str], polls: int = 3) -> list[str]:
    seen: list[str] = []
    for _ in range(polls):
        answer = call("service.log", {"path": paths, "cursor": cursor})["result"]
        seen.extend(e["message"] for e in answer["entries"])
        cursor = answer["cursor"]
    return seen


def _writing_during_the_tail(monkeypatch, write_now) -> None:
    """Run `write_now` once, in the middle of the tail's read (when it looks for rotated copies,
    after the live file's position could have been taken and before the read is done)."""
    real = logfiles.rotated_copies
    pending = [write_now]

    def rotated_copies(path: str) -> list[str]:
        while pending:
            pending.pop()()
        return real(path)

    monkeypatch.setattr(logfiles, "rotated_copies", rotated_copies)


def test_lines_written_while_the_tail_is_read_come_once_from_the_follow(tmp_path, monkeypatch):
    live = tmp_path / "svc.stdout.log"
    write(live, "10:00:00.000 | INFO    | a - one\n10:00:01.000 | INFO    | a - two\n")
    _writing_during_the_tail(monkeypatch, lambda: write(live, "10:00:02.000 | INFO    | a - three\n10:00:03.000 | INFO    | a - four\n"))
    first = call("service.log", {"path": [str(live)], "tail": 10})["result"]
    monkeypatch.undo()
    shown = [e["message"] for e in first["entries"]]
    followed = _follow_messages(first["cursor"], [str(live)])
    assert shown + followed == ["one", "two", "three", "four"], (shown, followed)


def test_a_rotation_while_the_tail_is_read_loses_and_repeats_nothing(tmp_path, monkeypatch):
    live = tmp_path / "svc.stderr.log"
    rotated = tmp_path / "svc.stderr-20260302T100002.500.log"
    write(tmp_path / "svc.stderr-20260302T090000.000.log", "09:00:00.000 | INFO    | a - zero\n")
    write(live, "10:00:00.000 | INFO    | a - one\n10:00:01.000 | INFO    | a - two\n")

    def rotate() -> None:
        write(live, "10:00:02.000 | INFO    | a - three\n")  # the old file's last words
        os.rename(live, rotated)  # NSSM renames it and opens a new one
        write(live, "10:00:03.000 | INFO    | a - four\n")

    _writing_during_the_tail(monkeypatch, rotate)
    first = call("service.log", {"path": [str(live)], "tail": 10})["result"]
    monkeypatch.undo()
    shown = [e["message"] for e in first["entries"]]
    write(live, "10:00:04.000 | INFO    | a - five\n")
    followed = _follow_messages(first["cursor"], [str(live)])
    assert shown + followed == ["zero", "one", "two", "three", "four", "five"], (shown, followed)


def test_a_line_still_being_written_is_followed_whole(tmp_path):
    live = tmp_path / "svc.stdout.log"
    write(live, "10:00:00.000 | INFO    | a - one\n10:00:01.000 | INFO    | a - tw")
    first = call("service.log", {"path": [str(live)], "tail": 10})["result"]
    assert [e["message"] for e in first["entries"]] == ["one"]
    write(live, "o and the rest\n10:00:02.000 | INFO    | a - three\n")
    assert _follow_messages(first["cursor"], [str(live)]) == ["two and the rest", "three"]


# -- several services in one request, as -Wait follows them ---------------------------------------
@pytest.fixture
def two_services(tmp_path):
    now = dt.datetime.now()
    if now.hour == 0 and now.minute < 2:
        pytest.skip("too close to midnight for same-day log lines")
    services, paths = [], {}
    for name in ("PrefectServer", "PrefectWorker"):
        stdout, stderr = tmp_path / f"{name}.stdout.log", tmp_path / f"{name}.stderr.log"
        write(stdout, "")
        write(stderr, "")
        paths[name] = stderr
        role = "Server" if name == "PrefectServer" else "Worker"
        marker = json.dumps({"managedBy": "PrefectWin", "role": role, "logPaths": [str(stdout), str(stderr)]})
        services.append(FakeService(name=name, parameters={"Application": ("C:\\py\\python.exe",)}, marker=marker))
    fake = FakeServiceAdapter(services=services)
    previous = system._override
    system.use_adapter(fake)
    yield fake, paths
    system.use_adapter(previous)


def _line(seconds_ago: float, message: str) -> str:
    when = dt.datetime.now() - dt.timedelta(seconds=seconds_ago)
    return f"{when:%H:%M:%S}.{when.microsecond // 1000:03d} | INFO    | prefect - {message}\n"


def test_several_services_are_followed_with_one_cursor_each_entry_naming_its_service(two_services):
    fake, paths = two_services
    write(paths["PrefectServer"], _line(50, "server old") + _line(30, "server started"))
    write(paths["PrefectWorker"], _line(40, "worker old") + _line(20, "worker started"))
    first = call("service.log", {"name": ["PrefectServer", "PrefectWorker"], "tail": 1, "stream": ["Stdout", "Stderr"]})["result"]
    # -Tail is per service; the entries are merged by time.
    assert [(e["service"], e["message"]) for e in first["entries"]] == [("PrefectServer", "server started"), ("PrefectWorker", "worker started")]
    cursor = first["cursor"]
    seen: list[tuple[str, str]] = []
    for writes in (
        [("PrefectWorker", _line(3, "worker one"))],
        [("PrefectServer", _line(2, "server one")), ("PrefectWorker", _line(1, "worker two"))],
        [],
        [],
    ):
        for name, text in writes:
            write(paths[name], text)
        answer = call("service.log", {"name": ["PrefectServer", "PrefectWorker"], "cursor": cursor, "stream": ["Stdout", "Stderr"]})["result"]
        seen.extend((e["service"], e["message"]) for e in answer["entries"])
        cursor = answer["cursor"]
    assert seen == [("PrefectWorker", "worker one"), ("PrefectServer", "server one"), ("PrefectWorker", "worker two")]


def test_one_missing_service_of_several_is_not_found_naming_it(two_services):
    error = call("service.log", {"name": ["PrefectServer", "NoSuchService"]})["error"]
    assert (error["code"], error["target"]) == ("NotFound", "NoSuchService")


def test_a_service_s_secrets_are_masked_in_its_log_tail_and_follow(tmp_path):
    """What the service's secrets file holds (its database password, its auth string) never
    comes back, in a message or a raw line, whether read as a tail or followed (-Wait)."""
    import urllib.parse

    password, auth_string = "Quokka-Db/Pw@7!", "admin:Dingo-Auth-5"
    secrets_path = "C:\\ProgramData\\Prefect\\PrefectServer.secrets.toml"
    url = f"postgresql+asyncpg://prefect:{urllib.parse.quote(password, safe='')}@db.example.com:5432/prefect"
    stdout, stderr = tmp_path / "PrefectServer.stdout.log", tmp_path / "PrefectServer.stderr.log"
    write(stdout, "")
    write(stderr, _line(30, f"login failed with password {password}") + f"Traceback (most recent call last):\nhttpx.HTTPStatusError: 401 for {auth_string}\n")
    marker = json.dumps({"managedBy": "PrefectWin", "role": "Server", "logPaths": [str(stdout), str(stderr)]})
    parameters = {"Application": ("C:\\py\\python.exe",), "AppEnvironmentExtra": (f"PREFECT_PROFILES_PATH={secrets_path}",)}
    fake = FakeServiceAdapter(services=[FakeService(name="PrefectServer", parameters=parameters, marker=marker)])
    fake.secret_files[secrets_path] = (
        f'active = "prefectwin"\n[profiles.prefectwin]\nPREFECT_API_DATABASE_CONNECTION_URL = "{url}"\n'
        f'PREFECT_SERVER_API_AUTH_STRING = "{auth_string}"\n'
    )
    previous = system._override
    system.use_adapter(fake)
    try:
        first = call("service.log", {"name": ["PrefectServer"], "stream": ["Stdout", "Stderr"]})
        write(stderr, _line(1, f"retrying {url} with {auth_string}"))
        followed, cursor = {"ok": True, "result": {"entries": []}}, first["result"]["cursor"]
        for _ in range(3):  # the newest entry is held until the next poll finds it complete
            answer = call("service.log", {"name": ["PrefectServer"], "stream": ["Stdout", "Stderr"], "cursor": cursor})
            followed["result"]["entries"] += answer["result"]["entries"]
            cursor = answer["result"]["cursor"]
    finally:
        system.use_adapter(previous)
    for answer in (first, followed):
        assert answer["ok"] and answer["result"]["entries"], answer
        shown = json.dumps(answer, ensure_ascii=False)
        for secret in (password, urllib.parse.quote(password, safe=""), auth_string, "Dingo-Auth-5"):
            assert secret not in shown, f"{secret} is shown: {shown}"
    messages = [e["message"] for e in first["result"]["entries"]] + [e["message"] for e in followed["result"]["entries"]]
    assert any(m.startswith("login failed with password ********") for m in messages), messages
    assert "retrying ******** with ********" in messages, messages
