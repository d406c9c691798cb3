"""One request in, one response out: the bridge's Python end.

`handle()` is pure with respect to stdin/stdout so it can be driven in-process by tests
(including property-based ones); `main()` is the thin process wrapper around it.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from typing import Any, Iterator, Optional

from prefectwin import PROTOCOL_VERSION, wire
from prefectwin.errors import InternalError, InvalidRequest, PrefectWinError, stopped
from prefectwin.interrupts import Interrupted
from prefectwin.events import Events

# PowerShell sends parameters, never payloads: anything this large is a mistake or an attack,
# and reading it whole would make a runaway caller cost us memory.
MAX_REQUEST_BYTES = 1024 * 1024


def _decode(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_REQUEST_BYTES:
        raise InvalidRequest(
            f"The request is {len(raw)} bytes; at most {MAX_REQUEST_BYTES} are accepted.",
            target="request",
            remediation="Send parameters, not file contents, in the request.",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"The request is not valid UTF-8 (byte {exc.start}).",
            target="request",
            remediation="Encode the request as UTF-8.",
        ) from None
    if not text.strip():
        raise InvalidRequest(
            "The request is empty: nothing was written to stdin.",
            target="request",
            remediation="Write one JSON request object to stdin, then close it.",
        )
    try:
        document = wire.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
            target="request",
            remediation="Send exactly one JSON object.",
        ) from None
    except (wire.DuplicateKey, wire.NotJson) as exc:
        raise InvalidRequest(
            f"The request is not valid JSON: {exc}.",
            target="request",
            remediation="Send each name once per object, and numbers as finite JSON numbers.",
        ) from None
    except (RecursionError, ValueError) as exc:
        # Valid JSON that Python's parser refuses: nesting deeper than the recursion limit, or
        # an integer longer than sys.get_int_max_str_digits(). Still the caller's mistake.
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else "a number in it is too long"
        raise InvalidRequest(
            f"The request cannot be parsed: {reason}.",
            target="request",
            remediation="Send exactly one JSON object of parameters.",
        ) from None
    if not isinstance(document, dict):
        raise InvalidRequest(
            f"The request must be a JSON object, not {type(document).__name__}.",
            target="request",
            remediation='Send {"protocol": 1, "command": "family.verb", "params": {}}.',
        )
    return document


def _check_envelope(document: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from prefectwin.models import Request

    try:
        request = Request.model_validate(document)
    except ValidationError as exc:
        problems = validation_problems(exc, prefix="")
        raise InvalidRequest(
            "The request envelope is invalid: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems)
            + ".",
            target=problems[0]["field"] if problems else "request",
            remediation='Send {"protocol": 1, "command": "family.verb", "params": {...}, "whatIf": false}; see docs/protocol.md.',
            details=problems,
        ) from None
    return request


def _enter(cwd: Optional[str]) -> None:
    if cwd is None:
        return
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise InvalidRequest(
            f"The request's working directory cannot be entered: {exc.strerror}.",
            target="cwd",
            remediation="Run the command from an existing file-system location.",
        ) from None


@contextlib.contextmanager
def _caller_environment(environment: Optional[dict[str, str]]) -> Iterator[None]:
    """Serve one request in the caller's environment, then put the process's own one back, so
    that nothing a request brought outlives it in a session."""
    if environment is None:
        yield
        return
    own = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(own)


def validation_problems(exc: Any, prefix: str = "params") -> list[dict[str, Any]]:
    """Turn a pydantic ValidationError into field/message pairs. Never echoes the input:
    it may be a password."""
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(part) for part in err["loc"])
        field = ".".join(part for part in (prefix, loc) if part) or "request"
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append({"field": field, "message": message})
    return problems


def _given(cmd: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The params without those sent as null: PowerShell sends a parameter bound to $null as it
    is, and that means not given, so the command's default applies (docs/protocol.md, "Request
    values"). An unknown name stays an error whatever its value: a misspelt name is never
    ignored."""
    fields = cmd.params.model_fields
    known = set(fields) | {field.alias for field in fields.values() if field.alias}
    return {name: value for name, value in params.items() if value is not None or name not in known}


def _validate_params(cmd: Any, params: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return cmd.params.model_validate(params)
    except ValidationError as exc:
        problems = validation_problems(exc)
        known = sorted(
            (f.alias or n) for n, f in cmd.params.model_fields.items()
        )
        raise InvalidRequest(
            f"Invalid parameters for '{cmd.name}': "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems)
            + ".",
            target=problems[0]["field"] if problems else "params",
            remediation=f"Parameters of {cmd.name}: {', '.join(known) or '(none)'}.",
            details=problems,
        ) from None


def _serialize(cmd: Any, value: Any) -> Any:
    from pydantic import TypeAdapter

    from prefectwin import secrets

    document = TypeAdapter(cmd.result).dump_python(value, mode="json", by_alias=True)
    if secrets.current().reveal_answer:
        return document  # the caller asked for secret values (-ShowSecret): the answer alone has them
    # The one way out for every answer. `handover` fields go to the PowerShell wrapper, which
    # applies them (a -Scope Process variable) and never outputs them.
    return secrets.mask_document(document, keep=getattr(cmd.result, "handover", ()))


def _check_text(document: dict[str, Any]) -> None:
    found = wire.text_problem(document, "")
    if found is not None:
        where, problem = found
        raise InvalidRequest(
            f"The request's {where} {problem}.",
            target=where,
            remediation="Send text only: no NUL characters, and no unpaired UTF-16 surrogates (\\ud800-\\udfff escapes).",
        )


def _check_apply(cmd: Any, request: Any) -> None:
    if request.apply is None:
        return
    if request.what_if or not cmd.changes_state:
        why = "with whatIf" if request.what_if else f"for {cmd.name}, which changes nothing"
        raise InvalidRequest(
            f"The request's apply field makes no sense {why}.",
            target="apply",
            remediation="Send apply only without whatIf, to a state-changing command, with the planId its whatIf answer gave.",
        )


def _report_pending(cmd: Any, events: Events) -> None:
    """A change that a killed backend left half done: every command says so, once per request."""
    if cmd.name.startswith("change."):
        return
    from prefectwin.change.recovery import pending_warnings

    for warning in pending_warnings():
        events.warning(warning)


def handle(raw: bytes, events: Optional[Events] = None) -> tuple[dict[str, Any], int]:
    """Serve one request. Returns (response object, process exit code)."""
    try:
        document = _decode(raw)
    except PrefectWinError as exc:
        return {"protocol": PROTOCOL_VERSION, "ok": False, "error": exc.to_wire()}, exc.exit_code
    return handle_document(document, events)


def handle_document(document: dict[str, Any], events: Optional[Events] = None) -> tuple[dict[str, Any], int]:
    """Serve one request that is already a JSON object (serve.py parses its lines itself)."""
    from prefectwin import secrets

    # This request's secrets (its SecretStr parameters, secret names' values in them and in its
    # environment, what its command registers) are masked in all it outputs: answer, events
    # and errors alike, the errors raised on the way out included.
    with secrets.request_scope() as scope:
        return _handle_document(document, events, scope)


def _handle_document(document: dict[str, Any], events: Optional[Events], scope: Any) -> tuple[dict[str, Any], int]:
    from prefectwin import secrets
    from prefectwin.registry import Context, lookup

    events = events or Events()
    try:
        _check_text(document)
        request = _check_envelope(document)
        cmd = lookup(request.command)
        params = _given(cmd, request.params or {})
        validated = _validate_params(cmd, params)
        _check_apply(cmd, request)
        _enter(request.cwd)
        from prefectwin.change import session

        ctx = Context(what_if=request.what_if, events=events, apply=request.apply, request=(cmd.name, session.params_key(params)))
        scope.use_environment(request.environment if request.environment is not None else dict(os.environ))
        secrets.register_found(validated)
        secrets.register_found(params)
        with _caller_environment(request.environment):
            _report_pending(cmd, events)
            if request.apply is not None and session.kept(request.apply.plan_id):
                result = session.apply_stored(ctx)
            else:
                result = cmd.handler(validated, ctx)
        return {"protocol": PROTOCOL_VERSION, "ok": True, "result": _serialize(cmd, result)}, 0
    except Interrupted as exc:
        error = stopped(exc)
        return {"protocol": PROTOCOL_VERSION, "ok": False, "error": error.to_wire()}, error.exit_code
    except PrefectWinError as exc:
        return {"protocol": PROTOCOL_VERSION, "ok": False, "error": exc.to_wire()}, exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the protocol promises no traceback on stdout
        # Events are masked (events.py): not the URL passwords only, every secret of the request.
        events.debug("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        error = InternalError(
            f"Unexpected {type(exc).__name__} in the PrefectWin backend.",
            remediation="Re-run with -Debug to see the traceback, and report it as a PrefectWin bug.",
        )
        return {"protocol": PROTOCOL_VERSION, "ok": False, "error": error.to_wire()}, error.exit_code


def write_response(response: dict[str, Any]) -> None:
    try:
        sys.stdout.buffer.write(wire.dumps_line(response))
        sys.stdout.buffer.flush()
    except (BrokenPipeError, ValueError):
        # The caller went away (or closed our stdout): there is no one left to answer. Point
        # stdout at the null device so that the interpreter's final flush has nothing to say.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass


def main(argv: list[str]) -> int:
    if argv[:1] == ["--schema"]:
        from prefectwin.registry import schema

        sys.stdout.write(json.dumps(schema(), indent=2) + "\n")
        return 0
    if argv:
        write_response(
            {
                "protocol": PROTOCOL_VERSION,
                "ok": False,
                "error": InvalidRequest(
                    f"Unexpected arguments: {' '.join(argv)}.",
                    target="argv",
                    remediation="Run 'python -m prefectwin rpc' with the request on stdin, or 'rpc --schema'.",
                ).to_wire(),
            }
        )
        return 2
    from prefectwin import interrupts
    from prefectwin.system import processes

    interrupts.install()
    interrupts.watch_parent()
    try:
        # One byte more than the limit is enough to know the request is too large.
        raw = sys.stdin.buffer.read(MAX_REQUEST_BYTES + 1)
        if len(raw) > MAX_REQUEST_BYTES:
            # Drain the rest so the writer never blocks on a full pipe, without keeping it.
            while sys.stdin.buffer.read(1 << 20):
                pass
        response, code = handle(raw)
    except Interrupted as exc:  # while reading the request, or between handle() and here
        error = stopped(exc)
        response, code = {"protocol": PROTOCOL_VERSION, "ok": False, "error": error.to_wire()}, error.exit_code
    finally:
        processes.end_all()
    try:
        with interrupts.deferred():  # a signal must not cut the answer line in half
            write_response(response)
    except Interrupted:
        pass
    return code
