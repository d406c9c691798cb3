"""`python -m prefectwin serve`: many requests over one process, as JSON Lines.

Each stdin line is a request envelope plus an `id`; the stdout lines for it are its events
(verbose, warning, progress, ...), then the response, all with the same `id`; the response also
carries the `exitCode` the one-shot `rpc` would have exited with. Events travel on stdout, in
order before their answer, so a reader never has to guess whether a late stderr line belonged
to the request it just finished; stderr is left for crash output. The session ends when stdin
closes. A bad line gets a structured error and the session carries on: one broken caller must
not cost the others their warm interpreter. The target interpreter's agent is kept warm for the
session's length (target/agents.py) and ended with it.
"""
from __future__ import annotations

import json
import sys
import threading
from typing import IO, Any, Callable

from prefectwin import PROTOCOL_VERSION, wire
from prefectwin.errors import InvalidRequest, PrefectWinError
from prefectwin.events import Events
from prefectwin.rpc import MAX_REQUEST_BYTES, _decode, handle_document


Writer = Callable[[dict[str, Any]], None]


class RequestEvents(Events):
    """Events tagged with the id of the request being served, written as stdout lines."""

    def __init__(self, request_id: Any, write: Writer) -> None:
        super().__init__()
        self._id = request_id
        self._write_line = write

    def _emit(self, record: dict) -> None:
        self._write_line({"id": self._id, **record})


def _refusal(error: PrefectWinError, request_id: Any = None) -> dict[str, Any]:
    return {"id": request_id, "protocol": PROTOCOL_VERSION, "ok": False, "error": error.to_wire(), "exitCode": error.exit_code}


_STDOUT_LOCK = threading.Lock()


def _write_line(stream: IO[bytes], record: dict[str, Any]) -> None:
    line = wire.dumps_line(record)
    # The gathering threads' events must not interleave with each other or with the answer.
    # One write() of a whole line is one C call, which a signal handler cannot split.
    with _STDOUT_LOCK:
        stream.write(line)
        stream.flush()


def _write(stream: IO[bytes], response: dict[str, Any]) -> None:
    from prefectwin import interrupts

    with interrupts.deferred():  # a signal must not cut an answer line in half
        _write_line(stream, response)


def _too_large() -> dict[str, Any]:
    return _refusal(
        InvalidRequest(
            f"The request line is longer than {MAX_REQUEST_BYTES} bytes and was discarded.",
            target="request",
            remediation="Send parameters, not file contents, in the request.",
        )
    )


def answer(line: bytes, write_event: Writer) -> dict[str, Any]:
    """The response line for one request line: always exactly one, whatever the line holds."""
    try:
        document = _decode(line)
    except PrefectWinError as exc:
        return _refusal(exc)  # its id could not be read
    request_id = document.pop("id", None)
    problem = wire.text_problem(request_id, "id")
    if problem is not None:
        # An id that cannot be echoed as text is no id: answer as for an unreadable one.
        return _refusal(
            InvalidRequest(
                f"The request's id {problem[1]}.",
                target="id",
                remediation="Use a number or a plain string as the id.",
            )
        )
    response, code = handle_document(document, RequestEvents(request_id, write_event))
    return {"id": request_id, **response, "exitCode": code}


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Answer lines until stdin closes (exit 0) or a stop signal comes (128 + its number; a
    request in flight is answered first, with an Interrupted error)."""
    from prefectwin import interrupts
    from prefectwin.target import agents  # the standard library only: a session starts at once

    try:
        # The target interpreter's agent stays up between requests, for this session only.
        agents.keep_warm()
        return _serve(stdin, stdout)
    except interrupts.Interrupted as exc:  # while waiting for a line, or writing an answer
        return interrupts.exit_code(exc)
    finally:
        from prefectwin.system import processes

        agents.close_all()
        processes.end_all()


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> int:
    from prefectwin import interrupts

    while True:
        line = stdin.readline(MAX_REQUEST_BYTES + 1)
        if not line:
            return 0
        if len(line) > MAX_REQUEST_BYTES and not line.endswith(b"\n"):
            # Skip to the end of the oversized line without holding it in memory.
            while (chunk := stdin.readline(1 << 20)) and not chunk.endswith(b"\n"):
                pass
            _write(stdout, _too_large())
            continue
        if not line.strip():
            continue
        # Events are not deferred: deferral ends by raising a pending signal, which must come
        # from the answer's write, not from the middle of the command.
        _write(stdout, answer(line, lambda record: _write_line(stdout, record)))
        if interrupts.pending() is not None:
            # The signal came during that request, which has now been answered: stop.
            return interrupts.exit_code(interrupts.Interrupted(interrupts.pending()))


def main(argv: list[str]) -> int:
    if argv:
        sys.stderr.write(json.dumps({"level": "warning", "message": f"serve takes no arguments; ignored: {' '.join(argv)}"}) + "\n")
    from prefectwin import interrupts

    interrupts.install()
    interrupts.watch_parent()
    try:
        return serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:
        return 1  # the caller closed our stdout: nobody is left to answer
