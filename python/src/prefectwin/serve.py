"""`python -m prefectwin serve`: many requests over one process, as JSON Lines.

Each stdin line is a request envelope plus an `id`; the stdout lines for it are its events
(verbose, warning, progress, ...), then the response, all with the same `id`; the response also
carries the `exitCode` the one-shot `rpc` would have exited with. Events travel on stdout, in
order before their answer, so a reader never has to guess whether a late stderr line belonged
to the request it just finished; stderr is left for crash output. The session ends when stdin
closes. A bad line gets a
structured error and the session carries on: one broken caller must not cost the others their
warm interpreter.
"""
from __future__ import annotations

import json
import sys
import threading
from typing import IO, Any, Callable

from prefectwin import PROTOCOL_VERSION
from prefectwin.errors import InvalidRequest
from prefectwin.events import Events
from prefectwin.rpc import MAX_REQUEST_BYTES, handle


class RequestEvents(Events):
    """Events tagged with the id of the request being served, written as stdout lines."""

    def __init__(self, request_id: Any, write: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self._id = request_id
        self._write_line = write

    def _emit(self, record: dict) -> None:
        self._write_line({"id": self._id, **record})


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


_STDOUT_LOCK = threading.Lock()


def _write(stream: IO[bytes], response: dict[str, Any]) -> None:
    # Events may come from the gathering threads while the answer is being written.
    line = json.dumps(response, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8") + b"\n"
    with _STDOUT_LOCK:
        stream.write(line)
        stream.flush()


def _too_large(size: int) -> dict[str, Any]:
    error = InvalidRequest(
        f"The request line is longer than {MAX_REQUEST_BYTES} bytes and was discarded.",
        target="request",
        remediation="Send parameters, not file contents, in the request.",
    )
    return {"id": None, "protocol": PROTOCOL_VERSION, "ok": False, "error": error.to_wire(), "exitCode": error.exit_code}


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> int:
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
        response, code = handle(raw, RequestEvents(request_id, lambda record: _write(stdout, record)))
        _write(stdout, {"id": request_id, **response, "exitCode": code})


def main(argv: list[str]) -> int:
    if argv:
        sys.stderr.write(json.dumps({"level": "warning", "message": f"serve takes no arguments; ignored: {' '.join(argv)}"}) + "\n")
    return serve(sys.stdin.buffer, sys.stdout.buffer)
