"""`python -m prefectwin serve`: many requests over one process, as JSON Lines.

Each stdin line is a request envelope plus an `id`; each stdout line is the response plus the
same `id` and the `exitCode` the one-shot `rpc` would have exited with. stderr events carry
the id of the request they belong to. The session ends when stdin closes. A bad line gets a
structured error and the session carries on: one broken caller must not cost the others their
warm interpreter.
"""
from __future__ import annotations

import json
import sys
from typing import IO, Any, Optional

from prefectwin import PROTOCOL_VERSION
from prefectwin.errors import InvalidRequest
from prefectwin.events import Events
from prefectwin.rpc import MAX_REQUEST_BYTES, handle


class RequestEvents(Events):
    """Events tagged with the id of the request being served."""

    def __init__(self, request_id: Any, stream: Optional[IO[str]] = None) -> None:
        super().__init__(stream)
        self._id = request_id

    def _emit(self, record: dict) -> None:
        super()._emit({"id": self._id, **record})


def _split_id(line: bytes) -> tuple[Any, bytes]:
    """Take the `id` off a request line; the rest is an ordinary rpc request."""
    try:
        document = json.loads(line.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError covers JSONDecodeError and over-long integers; RecursionError deep nesting.
        return None, line  # let handle() produce its precise error
    if not isinstance(document, dict):
        return None, line
    request_id = document.pop("id", None)
    return request_id, json.dumps(document).encode("utf-8")


def _write(stream: IO[bytes], response: dict[str, Any]) -> None:
    stream.write(json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
    stream.flush()


def _too_large(size: int) -> dict[str, Any]:
    error = InvalidRequest(
        f"The request line is longer than {MAX_REQUEST_BYTES} bytes and was discarded.",
        target="request",
        remediation="Send parameters, not file contents, in the request.",
    )
    return {"id": None, "protocol": PROTOCOL_VERSION, "ok": False, "error": error.to_wire(), "exitCode": error.exit_code}


def serve(stdin: IO[bytes], stdout: IO[bytes], stderr: Optional[IO[str]] = None) -> int:
    while True:
        line = stdin.readline(MAX_REQUEST_BYTES + 1)
        if not line:
            return 0
        if len(line) > MAX_REQUEST_BYTES and not line.endswith(b"\n"):
            # Skip to the end of the oversized line without holding it in memory.
            size = len(line)
            while (chunk := stdin.readline(1 << 20)) and not chunk.endswith(b"\n"):
                size += len(chunk)
            _write(stdout, _too_large(size + len(chunk)))
            continue
        if not line.strip():
            continue
        request_id, raw = _split_id(line)
        response, code = handle(raw, RequestEvents(request_id, stderr))
        _write(stdout, {"id": request_id, **response, "exitCode": code})


def main(argv: list[str]) -> int:
    if argv:
        sys.stderr.write(json.dumps({"level": "warning", "message": f"serve takes no arguments; ignored: {' '.join(argv)}"}) + "\n")
    return serve(sys.stdin.buffer, sys.stdout.buffer)
