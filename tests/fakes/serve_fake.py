"""A stand-in for `python -m prefectwin serve`, for the Pester session tests (Windows: started
through a .cmd that PREFECTWIN_PYTHON names; tests/bridge/test_session_fake.py runs it here).

It speaks the session protocol (docs/protocol.md, Sessions) and misbehaves on request:
  - any command: three verbose events with the request's id on stdout, numbered, then the
    answer, whose result echoes the command, the request's id and its cwd;
  - fake.crash: one line on stderr, then exit code 3 without an answer;
  - fake.hang: no answer for a minute;
  - fake.stale: first an answer to another id, then the real one.
Its arguments (`-X utf8 -m prefectwin serve`) are ignored.
"""
from __future__ import annotations

import json
import sys
import time


def _line(stream, document) -> None:
    stream.write(json.dumps(document) + "\n")
    stream.flush()


def main() -> int:
    for raw in sys.stdin.buffer:
        if not raw.strip():
            continue
        request = json.loads(raw.decode("utf-8-sig"))
        request_id, command = request.get("id"), request.get("command")
        if command == "fake.crash":
            sys.stderr.write("fatal: the fake backend crashes on purpose\n")
            sys.stderr.flush()
            return 3
        if command == "fake.hang":
            time.sleep(60)
        for number in (1, 2, 3):
            _line(sys.stdout, {"id": request_id, "level": "verbose", "message": f"fake serves {command} ({number}/3)"})
        if command == "fake.stale":
            _line(sys.stdout, {"id": -1, "protocol": 1, "ok": True, "result": {"stale": True}, "exitCode": 0})
        result = {"version": "fake", "protocol": 1, "command": command, "id": request_id, "cwd": request.get("cwd")}
        _line(sys.stdout, {"id": request_id, "protocol": 1, "ok": True, "result": result, "exitCode": 0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
