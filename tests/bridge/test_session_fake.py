"""The fake session backend that the Pester session tests rely on (tests/fakes/serve_fake.py)
behaves as they assume and as docs/protocol.md describes a session: events, then the answer, on
stdout."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "serve_fake.py"


def answers(done: subprocess.CompletedProcess) -> list[dict]:
    return [line for line in map(json.loads, done.stdout.splitlines()) if "ok" in line]


def run(*requests: dict, timeout: float = 30) -> subprocess.CompletedProcess:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in requests)
    return subprocess.run([sys.executable, str(FAKE), "-X", "utf8", "-m", "prefectwin", "serve"], input=body, capture_output=True, timeout=timeout)


def test_answers_with_the_id_and_echoes_command_and_cwd() -> None:
    done = run({"id": 1, "protocol": 1, "command": "module.version", "params": {}, "cwd": "C:\\x"}, {"id": 2, "protocol": 1, "command": "x.y", "params": {}})
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and done.stderr == b""
    assert [(a["id"], a["result"]["command"], a["result"]["cwd"]) for a in answers(done)] == [(1, "module.version", "C:\\x"), (2, "x.y", None)]
    # Each request's events come, numbered, just before its answer.
    assert [(line["id"], "ok" in line) for line in lines] == [(1, False)] * 3 + [(1, True)] + [(2, False)] * 3 + [(2, True)]
    assert [line["message"] for line in lines[:3]] == [f"fake serves module.version ({n}/3)" for n in (1, 2, 3)]


def test_crash_exits_3_without_an_answer_after_a_plain_stderr_line() -> None:
    done = run({"id": 1, "protocol": 1, "command": "module.version", "params": {}}, {"id": 2, "protocol": 1, "command": "fake.crash", "params": {}})
    assert done.returncode == 3
    assert [a["id"] for a in answers(done)] == [1]
    assert done.stderr.decode().splitlines()[-1] == "fatal: the fake backend crashes on purpose"


def test_stale_answers_another_id_first() -> None:
    done = run({"id": 5, "protocol": 1, "command": "fake.stale", "params": {}})
    assert [a["id"] for a in answers(done)] == [-1, 5]
