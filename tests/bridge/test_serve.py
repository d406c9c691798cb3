"""The persistent session, `python -m prefectwin serve`, driven as a real process."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prefectwin.rpc import MAX_REQUEST_BYTES


def serve_lines(lines: list[bytes], timeout: float = 60) -> tuple[int, list[dict], str]:
    """Every stdout line (events and answers, in order) and the raw stderr."""
    proc = subprocess.run(
        [sys.executable, "-X", "utf8", "-m", "prefectwin", "serve"],
        input=b"".join(lines),
        capture_output=True,
        timeout=timeout,
    )
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr.decode("utf-8", "replace")


def serve(lines: list[bytes], timeout: float = 60) -> tuple[int, list[dict], list[dict]]:
    """The answers, and the events, of a session fed `lines`."""
    code, out, _ = serve_lines(lines, timeout)
    return code, [o for o in out if "ok" in o], [o for o in out if "ok" not in o]


def request(request_id, command="module.version", **params) -> bytes:
    return json.dumps({"id": request_id, "protocol": 1, "command": command, "params": params}).encode() + b"\n"


def test_answers_each_request_in_order_with_its_id():
    code, out, _ = serve([request(1), request("two"), request(3)])
    assert code == 0
    assert [o["id"] for o in out] == [1, "two", 3]
    assert all(o["ok"] and o["exitCode"] == 0 and o["result"]["protocol"] == 1 for o in out)


def test_a_malformed_line_gets_a_structured_error_and_the_session_survives():
    code, out, _ = serve([b"{not json\n", b"[1, 2]\n", request(7)])
    assert code == 0
    assert [o["error"]["code"] for o in out[:2]] == ["InvalidRequest", "InvalidRequest"]
    assert [o["exitCode"] for o in out[:2]] == [2, 2]
    assert out[2]["id"] == 7 and out[2]["ok"]


def test_json_that_python_cannot_parse_gets_an_error_and_the_session_survives():
    deep = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    long_int = b'{"id": 1, "n": ' + b"1" * 5000 + b"}\n"
    code, out, _ = serve([deep, long_int, request(3)])
    assert code == 0
    assert [o["error"]["code"] for o in out[:2]] == ["InvalidRequest", "InvalidRequest"]
    assert out[2]["id"] == 3 and out[2]["ok"]


def test_an_oversized_line_is_discarded_with_an_error_and_the_session_survives():
    huge = b'{"id": 1, "protocol": 1, "command": "module.version", "params": {"x": "' + b"x" * (MAX_REQUEST_BYTES + 10) + b'"}}\n'
    code, out, _ = serve([huge, request(2)])
    assert code == 0
    assert out[0]["ok"] is False and out[0]["error"]["code"] == "InvalidRequest"
    assert "longer than" in out[0]["error"]["message"]
    assert out[1] == {**out[1], "id": 2, "ok": True}


def test_errors_keep_their_id_and_exit_code():
    code, out, _ = serve([request(5, "module.nope"), request(6, "environment.test", port=0)])
    assert code == 0
    assert out[0]["id"] == 5 and out[0]["error"]["target"] == "command"
    assert out[1]["id"] == 6 and out[1]["error"]["target"] == "params.port" and out[1]["exitCode"] == 2


def test_events_travel_on_stdout_with_their_id_before_their_answer():
    code, out, stderr = serve_lines([request(1), request("diag", "environment.test", check=["python.found"])])
    assert code == 0 and stderr == "", "stderr is for crash output only"
    answers = [index for index, line in enumerate(out) if "ok" in line]
    assert [out[i]["id"] for i in answers] == [1, "diag"]
    events = [(index, line) for index, line in enumerate(out) if "ok" not in line]
    assert events, "environment.test reports progress"
    assert all(line["id"] == "diag" and answers[0] < index < answers[1] for index, line in events)
    assert any("progress" in line for _, line in events) and all("progress" in line or "level" in line for _, line in events)


def test_a_bom_and_blank_lines_are_accepted():
    code, out, _ = serve([b"\n", b"\xef\xbb\xbf" + request(9), b"   \n"])
    assert code == 0 and [o["id"] for o in out] == [9] and out[0]["ok"]


@pytest.mark.parametrize("closing", [b"", request(1)[:-1]])
def test_the_session_ends_cleanly_when_stdin_closes(closing):
    # A last request without a newline is still served; then EOF ends the session with 0.
    code, out, _ = serve([closing])
    assert code == 0
    assert len(out) == (1 if closing else 0)


def test_each_request_is_served_in_the_environment_it_carries_and_no_later_one_inherits_it(tmp_path):
    """A session's answer must equal a fresh process's: the caller's environment travels with
    each request, and what one request brought is gone for the next."""
    import os

    caller = dict(os.environ, PREFECT_HOME=str(tmp_path), PREFECT_API_URL="http://10.9.8.7:4200/api")

    def setting_get(request_id, environment=None) -> bytes:
        document = {"id": request_id, "protocol": 1, "command": "setting.get", "params": {"name": ["PREFECT_API_URL"]}}
        if environment is not None:
            document["environment"] = environment
        return json.dumps(document).encode() + b"\n"

    code, out, _ = serve([setting_get(1, caller), setting_get(2)], timeout=120)
    assert code == 0 and all(o["ok"] for o in out), out
    carried, own = (o["result"] for o in out)
    assert [(s["name"], s["value"], s["source"]) for s in carried] == [("PREFECT_API_URL", "http://10.9.8.7:4200/api", "env:PREFECT_API_URL")]
    assert all(s["value"] != "http://10.9.8.7:4200/api" for s in own)


def test_an_environment_that_is_not_text_to_text_is_refused_naming_it():
    line = json.dumps({"id": 1, "protocol": 1, "command": "module.version", "environment": {"A": 1}}).encode() + b"\n"
    code, out, _ = serve([line, request(2)])
    assert code == 0
    assert out[0]["error"]["code"] == "InvalidRequest" and out[0]["error"]["target"].startswith("environment")
    assert out[1]["ok"]
