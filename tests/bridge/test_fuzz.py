"""Property-based fuzzing of the bridge: hostile strings, numbers, nesting and sizes.

One real `serve` process takes a few thousand lines (starting a process per case would cost
minutes); a bounded number of real `rpc` one-shots take the same kind of input. The bulk uses
commands that need no target probe: module.version, service.* (which on a machine without
Windows services answers NotSupported once its params are valid, and otherwise an invalid
request) and any command with an ill-typed or unknown param. Asserted for every case:
  - every stdout line is valid, strict JSON (no NaN), and valid UTF-8;
  - every request line gets exactly one answer, and the session survives;
  - no bad input is an InternalError;
  - no child process outlives its command.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading

import psutil
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

PYTHON = sys.executable
SERVE_EXAMPLES = int(os.environ.get("PREFECTWIN_FUZZ_EXAMPLES", "3000"))
RPC_EXAMPLES = 25
ANSWER_TIMEOUT_SEC = 60

# Surrogates included on purpose: json.dumps writes them as \ud800 escapes.
hostile_chars = st.characters(blacklist_categories=())
hostile_text = st.one_of(
    st.text(hostile_chars, max_size=40),
    st.sampled_from(["", " ", "\x00", "\ud800", "\udfff", "a\r\nb", "%USERNAME%", "--help", "-", "..", "C:\\", "\\\\srv\\share", "\ufeff", "😀"]),
    # Sizes without the cost of drawing every character: one hostile character, repeated.
    st.builds(lambda char, count: char * count, st.sampled_from(["a", "\ud800", "\x00", "😀", "%", "\\", '"']), st.integers(1000, 60_000)),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1, 65535, 65536, 2**31, 2**63, 1e308, -0.0, 5e-324]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)), max_leaves=12)
ids = st.one_of(st.none(), numbers, hostile_text, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=3))

SERVICE_PARAMS = ["name", "role", "pythonPath", "prefectHome", "port", "bindAddress", "databaseUrl", "pool", "workQueue", "dependsOn", "environment", "account", "startupType", "logDirectory", "timeoutSec", "force", "removeDatabase", "removeLogs"]
NO_PROBE_COMMANDS = ["module.version", "service.install", "service.get", "service.wait", "service.uninstall"]
PROBE_COMMANDS = ["environment.test", "environment.repair", "setting.get", "setting.set", "setting.remove"]


@st.composite
def envelopes(draw) -> dict:
    command = draw(st.one_of(st.sampled_from(NO_PROBE_COMMANDS), st.sampled_from(PROBE_COMMANDS), hostile_text))
    params = draw(st.dictionaries(st.sampled_from(SERVICE_PARAMS) | hostile_text, values, max_size=6))
    if command in PROBE_COMMANDS or command not in NO_PROBE_COMMANDS:
        # Never a valid request that would start a probe: an unknown param guarantees refusal.
        params["zzUnknownParam"] = draw(values)
    document: dict = {"protocol": draw(st.sampled_from([1, 1, 1, "1", 1.0, True, 2, None])), "command": command, "params": params}
    if draw(st.booleans()):
        document["whatIf"] = draw(st.one_of(st.booleans(), scalars))
    if draw(st.integers(0, 9)) == 0:
        document["cwd"] = draw(hostile_text)
    return document


def _encode(document, ascii_only: bool) -> bytes:
    text = json.dumps(document, ensure_ascii=ascii_only)
    # Without ensure_ascii a lone surrogate cannot be UTF-8: send the bytes a broken encoder would.
    return text.encode("utf-8", "surrogatepass")


@st.composite
def lines(draw) -> tuple[bytes, object]:
    """(one request line without its newline, the id the answer must carry)."""
    kind = draw(st.integers(0, 9))
    if kind <= 6:
        document = draw(envelopes())
        request_id = draw(ids)
        if draw(st.booleans()):
            document = {"id": request_id, **document}
        else:
            request_id = None
        line = _encode(document, draw(st.booleans()))
        clean = line.decode("utf-8", "strict") if _is_utf8(line) else None
        echo = request_id if clean is not None and _echoable(request_id) else None
        return line, echo
    if kind == 7:
        return _encode(draw(values), True), None  # JSON, but not an object
    if kind == 8:
        depth = draw(st.integers(1, 3000))
        return b'{"id": 1, "x": ' + b"[" * depth + b"]" * depth + b"}", "maybe"
    garbage = draw(st.binary(min_size=1, max_size=300)).replace(b"\n", b" ")
    return garbage, ("blank" if not garbage.strip() else "maybe")


def _echoable(value) -> bool:
    """Whether an id can come back as text: no lone surrogate and no NUL anywhere in it."""
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return all(_echoable(v) for v in value)
    if isinstance(value, dict):
        return all(_echoable(k) and _echoable(v) for k, v in value.items())
    return True


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def strict_json(line: bytes):
    def no_constant(name):
        raise AssertionError(f"bare {name} on stdout")

    return json.loads(line.decode("utf-8"), parse_constant=no_constant)


class Session:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-X", "utf8", "-m", "prefectwin", "serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.answers: "queue.Queue[bytes]" = queue.Queue()
        self.events: list[dict] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _pump(self) -> None:
        # A request's events come on stdout before its answer; they must be strict JSON too.
        for line in self.proc.stdout:
            if b'"ok":' in line:
                self.answers.put(line)
            else:
                self.events.append(strict_json(line))

    def _drain_stderr(self) -> None:
        for _ in self.proc.stderr:
            pass

    def ask(self, line: bytes) -> bytes:
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()
        try:
            return self.answers.get(timeout=ANSWER_TIMEOUT_SEC)
        except queue.Empty:
            pytest.fail(f"no answer within {ANSWER_TIMEOUT_SEC} s to {line[:200]!r}", pytrace=False)

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def session():
    live = Session()
    yield live
    if live.proc.poll() is None:
        live.proc.kill()
        live.proc.wait()


def _check_answer(answer: bytes, expected_id) -> dict:
    assert answer.endswith(b"\n") and answer.count(b"\n") == 1
    response = strict_json(answer)
    assert isinstance(response, dict) and set(response) >= {"id", "protocol", "ok", "exitCode"}
    if not response["ok"]:
        error = response["error"]
        assert error["code"] != "InternalError", error
        assert response["exitCode"] in (1, 2)
    if expected_id != "maybe":
        assert response["id"] == expected_id
    return response


@settings(max_examples=SERVE_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=lines())
def test_serve_answers_every_hostile_line_once_with_strict_json(session, case):
    line, expected_id = case
    assert session.proc.poll() is None, "the session died"
    assume(len(line) <= 1024 * 1024)  # longer lines: tests/bridge/test_serve.py
    if expected_id == "blank":
        # The protocol ignores blank lines: no answer, and the next request gets the next one.
        session.proc.stdin.write(line + b"\n")
        line, expected_id = b'{"id": "after-blank", "protocol": 1, "command": "module.version"}', "after-blank"
    _check_answer(session.ask(line), expected_id)
    # Exactly one answer: nothing else is waiting after it.
    assert session.answers.empty()


def test_after_the_fuzzing_the_session_is_alive_has_no_children_and_ends_cleanly(session):
    assert session.proc.poll() is None
    assert psutil.Process(session.proc.pid).children(recursive=True) == []
    answer = _check_answer(session.ask(b'{"id": "last", "protocol": 1, "command": "module.version"}'), "last")
    assert answer["ok"]
    assert session.close() == 0


@settings(max_examples=RPC_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=lines())
def test_rpc_answers_every_hostile_request_with_one_strict_json_line(case, neutral_cwd):
    line, _ = case
    done = subprocess.run([PYTHON, "-X", "utf8", "-m", "prefectwin", "rpc"], input=line, capture_output=True, timeout=120, cwd=neutral_cwd)
    assert done.stdout.endswith(b"\n") and done.stdout.count(b"\n") == 1, done.stdout[:500]
    response = strict_json(done.stdout)
    assert isinstance(response, dict) and "ok" in response
    if not response["ok"]:
        assert response["error"]["code"] != "InternalError", response["error"]
    assert done.returncode == (0 if response["ok"] else (2 if response["error"]["code"] == "InvalidRequest" else 1))
    assert b"Traceback" not in done.stdout
