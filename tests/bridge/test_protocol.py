"""The bridge protocol (docs/protocol.md), through the real `python -X utf8 -m prefectwin rpc`
subprocess and the in-process `prefectwin.rpc.handle`."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import prefectwin
from prefectwin import errors, registry, rpc
from prefectwin.diagnosis.checks import CHECK_NAMES
from prefectwin.events import Events

BOM = b"\xef\xbb\xbf"
VERSION = {"protocol": 1, "command": "module.version", "params": {}}
# Every member of System.Management.Automation.ErrorCategory (PowerShell 5.1 and 7).
POWERSHELL_ERROR_CATEGORIES = {
    "NotSpecified", "OpenError", "CloseError", "DeviceError", "DeadlockDetected", "InvalidArgument",
    "InvalidData", "InvalidOperation", "InvalidResult", "InvalidType", "MetadataError", "NotImplemented",
    "NotInstalled", "ObjectNotFound", "OperationStopped", "OperationTimeout", "SyntaxError", "ParserError",
    "PermissionDenied", "ResourceBusy", "ResourceExists", "ResourceUnavailable", "ReadError", "WriteError",
    "FromStdErr", "SecurityError", "ProtocolError", "ConnectionError", "AuthenticationError",
    "LimitsExceeded", "QuotaExceeded", "NotEnabled",
}


def req(command: str = "module.version", params=None, **envelope) -> bytes:
    body = {"protocol": 1, "command": command, **envelope}
    if params is not None:
        body["params"] = params
    return json.dumps(body).encode()


def in_process(raw: bytes) -> tuple[dict, int, list[dict]]:
    stream = io.StringIO()
    response, code = rpc.handle(raw, Events(stream))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return response, code, lines


# ------------------------------------------------------------------------------------------
# invalid requests: (id, raw request, expected target, fragment of the message, has details)
# ------------------------------------------------------------------------------------------
TEN_MB = b'{"protocol":1,"command":"module.version","params":{"pad":"' + b"x" * (10 * 1024 * 1024) + b'"}}'
INVALID = [
    ("malformed-json", b'{"protocol": 1, "command": ', "request", "not valid JSON", False),
    ("trailing-garbage", b'{"protocol":1,"command":"module.version"} trailing', "request", "not valid JSON", False),
    ("two-requests", req() + req(), "request", "not valid JSON", False),
    ("not-an-object", b"[1, 2, 3]", "request", "must be a JSON object", False),
    ("a-string", b'"module.version"', "request", "must be a JSON object", False),
    ("empty-stdin", b"", "request", "empty", False),
    ("whitespace-only", b" \r\n\t ", "request", "empty", False),
    ("bom-only", BOM, "request", "empty", False),
    ("ten-megabytes", TEN_MB, "request", "bytes", False),
    ("not-utf8", b'{"protocol":1,"command":"module.version","params":{"x":"\xff\xfe"}}', "request", "not valid UTF-8", False),
    ("utf16", "\ufeff" .encode("utf-16-le") + json.dumps(VERSION).encode("utf-16-le"), "request", "not valid UTF-8", False),
    ("deep-nesting", b'{"protocol":1,"command":"module.version","params":{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}}", "request", "nested too deeply", False),
    ("huge-integer", b'{"protocol":1,"command":"environment.test","params":{"port":' + b"9" * 5000 + b"}}", "request", "too long", False),
    ("protocol-string", b'{"protocol":"1","command":"module.version"}', "protocol", "protocol", True),
    ("protocol-2", b'{"protocol":2,"command":"module.version"}', "protocol", "protocol", True),
    ("protocol-true", b'{"protocol":true,"command":"module.version"}', "protocol", "protocol", True),
    ("protocol-float", b'{"protocol":1.0,"command":"module.version"}', "protocol", "protocol", True),
    ("protocol-missing", b'{"command":"module.version"}', "protocol", "protocol", True),
    ("whatif-yes", req(whatIf="yes"), "whatIf", "whatIf", True),
    ("whatif-1", req(whatIf=1), "whatIf", "whatIf", True),
    ("params-list", req(params=[]), "params", "params", True),
    ("params-string", req(params="port=4200"), "params", "params", True),
    ("command-missing", b'{"protocol":1}', "command", "command", True),
    ("command-number", b'{"protocol":1,"command":42}', "command", "command", True),
    ("command-empty", req(command=""), "command", "command", True),
    ("unknown-envelope-field", req(verbose=True), "verbose", "unknown field", True),
    ("cwd-missing-folder", req(cwd="/nonexistent/prefectwin/cwd"), "cwd", "cannot be entered", False),
    ("cwd-empty", req(cwd=""), "cwd", "cwd", True),
    ("cwd-number", req(cwd=5), "cwd", "cwd", True),
    ("port-abc", req("environment.test", {"port": "abc"}), "params.port", "params.port", True),
    ("port-zero", req("environment.test", {"port": 0}), "params.port", "params.port", True),
    ("port-too-big", req("environment.test", {"port": 70000}), "params.port", "params.port", True),
    ("port-float", req("environment.test", {"port": 4200.5}), "params.port", "params.port", True),
    ("role-unknown", req("environment.test", {"role": "Admin"}), "params.role", "params.role", True),
    ("check-unknown", req("environment.test", {"check": ["python.found", "nope"]}), "params.check.1", "params.check.1", True),
    ("check-not-list", req("environment.test", {"check": 5}), "params.check", "params.check", True),
    ("python-path-blank", req("environment.test", {"pythonPath": "  "}), "params.pythonPath", "must not be empty", True),
    ("unknown-param", req(params={"bogus": 1}), "params.bogus", "params.bogus: unknown field", True),
    ("unknown-param-case", req("environment.test", {"pythonpath": "/usr/bin/python3"}), "params.pythonpath", "unknown field", True),
    ("unknown-command", req("module.versoin"), "command", "Unknown command 'module.versoin'", False),
    ("unknown-family", req("nosuch.thing"), "command", "Unknown command", False),
    ("private-family", req("__init__.x"), "command", "Unknown command", False),
    ("no-verb", req("environment"), "command", "Unknown command", False),
]


def assert_invalid(response: dict, code: int, target: str, fragment: str, has_details: bool) -> dict:
    assert code == 2, response
    assert response["protocol"] == 1 and response["ok"] is False and "result" not in response
    error = response["error"]
    assert error["code"] == "InvalidRequest" and error["category"] == "InvalidArgument"
    assert error["target"] == target, error
    assert fragment in error["message"], error
    assert error["remediation"], error
    if has_details:
        assert error["details"], error
        assert all(set(d) == {"field", "message"} for d in error["details"]), error
        assert target in [d["field"] for d in error["details"]], error
    return error


@pytest.mark.parametrize("raw, target, fragment, has_details", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_request_in_process(raw, target, fragment, has_details):
    response, code, lines = in_process(raw)
    assert_invalid(response, code, target, fragment, has_details)
    assert lines == [], "an invalid request is answered on stdout only"


@pytest.mark.parametrize("raw, target, fragment, has_details", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_request_through_the_real_process(run_rpc, raw, target, fragment, has_details):
    result = run_rpc(raw, timeout=60)
    assert_invalid(result.response, result.code, target, fragment, has_details)
    assert "Traceback" not in result.stderr_text


def test_unknown_command_suggests_the_closest(run_rpc):
    error = run_rpc(req("environment.tset")).error
    assert "Did you mean 'environment.test'?" in error["remediation"]
    assert "module.version" in error["remediation"]  # and lists the known ones


def test_unknown_param_lists_the_known_ones():
    response, _, _ = in_process(req("environment.test", {"prot": 4200}))
    assert "params.prot" in response["error"]["message"]
    for known in ("pythonPath", "port", "prefectHome", "role", "check"):
        assert known in response["error"]["remediation"]
    assert "(none)" in in_process(req(params={"x": 1}))[0]["error"]["remediation"]


def test_a_null_param_is_not_given_but_an_unknown_name_stays_an_error():
    # PowerShell sends a parameter bound to $null as null (docs/protocol.md, "Request values").
    import prefectwin.commands.environment as environment

    seen = []
    with mock.patch.object(environment, "diagnose", lambda params, ctx: seen.append(params) or []):
        response, code, _ = in_process(req("environment.test", {"role": None, "pythonPath": None, "check": ["encoding"]}))
    assert (response["ok"], code) == (True, 0)
    # role is no Optional field: null is its default, and neither counts as given.
    assert seen[0].role == "Server" and seen[0].model_fields_set == {"check"}
    response, code, _ = in_process(req("environment.test", {"prot": None}))
    assert (response["ok"], response["error"]["target"]) == (False, "params.prot")


def test_validation_errors_never_echo_the_value():
    secret = "S3cret-Do-Not-Echo"
    for raw in (
        req("environment.test", {"port": secret}),
        req("environment.test", {"role": secret}),
        req("environment.test", {"check": [secret]}),
        req("environment.test", {"pythonPath": [secret]}),
        b'{"protocol":"' + secret.encode() + b'","command":"module.version"}',
    ):
        response, code, _ = in_process(raw)
        assert code == 2 and secret not in json.dumps(response), response


def test_too_large_request_is_drained_not_half_read(run_rpc):
    # The writer must not block on a full pipe: the whole 10 MB is consumed, the answer is 2.
    result = run_rpc(TEN_MB, timeout=60)
    assert result.code == 2 and str(len(TEN_MB)) not in result.error["message"]  # stops counting at the limit
    assert str(rpc.MAX_REQUEST_BYTES) in result.error["message"]


def test_unexpected_argv_is_an_invalid_request():
    done = subprocess.run([sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc", "--bogus"], input=b"", capture_output=True, timeout=60)
    assert done.returncode == 2
    response = json.loads(done.stdout)
    assert response["error"]["code"] == "InvalidRequest" and response["error"]["target"] == "argv"


# ------------------------------------------------------------------------------------------
# valid requests
# ------------------------------------------------------------------------------------------
def test_module_version(run_rpc):
    code, response, lines = run_rpc(VERSION)
    assert code == 0 and lines == []
    assert response == {
        "protocol": 1,
        "ok": True,
        "result": {
            "version": prefectwin.__version__,
            "protocol": prefectwin.PROTOCOL_VERSION,
            "pythonVersion": ".".join(map(str, sys.version_info[:3])),
            "pythonExecutable": sys.executable,
        },
    }


@pytest.mark.parametrize(
    "raw",
    [
        BOM + json.dumps(VERSION).encode(),
        BOM + b'\n  {"protocol": 1, "command": "module.version"}  \r\n',
        b'{"protocol":1,"command":"module.version","params":null,"whatIf":true}',
        json.dumps({"protocol": 1, "command": "module.version", "params": {}}, indent=4).encode(),
    ],
    ids=["bom", "bom-and-whitespace", "null-params-whatif", "pretty-printed"],
)
def test_accepted_encodings_and_shapes(run_rpc, raw):
    code, response, _ = run_rpc(raw)
    assert code == 0 and response["ok"] is True and response["result"]["version"] == prefectwin.__version__


def test_non_ascii_result_is_utf8_on_stdout(tmp_path, run_rpc):
    home = tmp_path / "Prefect Jürgen ✓"
    result = run_rpc({"protocol": 1, "command": "environment.test", "params": {"prefectHome": str(home), "check": ["settings.home"]}})
    assert result.code == 0
    assert result.checks["settings.home"]["data"]["path"] == str(home)


def test_schema_lists_every_command():
    done = subprocess.run([sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc", "--schema"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["protocol"] == 1 and schema["version"] == prefectwin.__version__
    commands = schema["commands"]
    assert {"module.version", "environment.test"} <= set(commands)
    assert set(commands) == set(registry.load_all())
    for name, entry in commands.items():
        assert set(entry) == {"summary", "changesState", "params", "result"}, name
        assert entry["summary"], f"{name} has no summary (the handler's docstring)"
        assert isinstance(entry["changesState"], bool)
        assert entry["params"]["type"] == "object" and entry["params"].get("additionalProperties") is False, name
        assert entry["result"], name

    env = commands["environment.test"]
    assert set(env["params"]["properties"]) == {"pythonPath", "port", "prefectHome", "role", "check", "serviceName"}
    assert env["changesState"] is False
    port = env["params"]["properties"]["port"]["anyOf"][0]
    assert (port["minimum"], port["maximum"]) == (1, 65535)
    check_items = env["params"]["properties"]["check"]["anyOf"][0]["items"]
    assert tuple(check_items["enum"]) == CHECK_NAMES
    assert env["result"]["type"] == "array"
    version = commands["module.version"]
    assert version["params"].get("properties", {}) == {}
    assert set(version["result"]["properties"]) == {"version", "protocol", "pythonVersion", "pythonExecutable"}


def test_a_state_changing_command_must_return_its_actions():
    # Invoke-PrefectPlan asks ShouldProcess about each action of the whatIf answer, and trusts
    # that every state-changing command has them.
    from prefectwin.models import Params, Result

    class NoPlan(Result):
        changed: bool = False

    with pytest.raises(RuntimeError, match="must list its actions"):
        registry.command("test.no-actions", params=Params, result=NoPlan, changes_state=True)(lambda params, ctx: NoPlan())
    assert "test.no-actions" not in registry.load_all()


def test_progress_events_are_what_write_progress_takes():
    # The bridge hands activity, status and percent to Write-Progress as they are.
    stream = io.StringIO()
    events = Events(stream)
    events.progress("", "", 250)
    events.progress("Installing", "Step 1", -5)
    events.progress("Installing", "Step 2")
    shown = [json.loads(line)["progress"] for line in stream.getvalue().splitlines()]
    assert shown == [
        {"activity": "PrefectWin", "status": "Working", "percent": 100},
        {"activity": "Installing", "status": "Step 1", "percent": 0},
        {"activity": "Installing", "status": "Step 2", "percent": None},
    ]


def test_trivial_command_imports_nothing_heavy():
    code = textwrap.dedent(
        """
        import json, sys, io
        from prefectwin.rpc import handle
        from prefectwin.events import Events
        response, code = handle(b'{"protocol":1,"command":"module.version"}', Events(io.StringIO()))
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"prefect", "psutil", "asyncpg", "rich", "httpx", "clr"}
                       or m.startswith(("prefectwin.diagnosis", "prefectwin.system", "prefectwin.commands.environment")))
        print(json.dumps({"code": code, "heavy": heavy}))
        """
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=True).stdout)
    assert out == {"code": 0, "heavy": []}


# ------------------------------------------------------------------------------------------
# errors raised by handlers
# ------------------------------------------------------------------------------------------
@pytest.fixture
def throwaway_command(monkeypatch):
    """register(name, handler): a command that exists for one test only."""
    from prefectwin.commands.module import VersionParams, VersionResult

    def register(name, handler):
        monkeypatch.setitem(registry._COMMANDS, name, registry.Command(name, VersionParams, VersionResult, handler, "test", False))

    return register


def test_unexpected_exception_is_an_internal_error(throwaway_command):
    def boom(params, ctx):
        raise RuntimeError("kaboom /secret/detail")

    throwaway_command("test.boom", boom)
    response, code, lines = in_process(req("test.boom"))
    assert code == 1
    assert response["ok"] is False
    error = response["error"]
    assert (error["code"], error["category"]) == ("InternalError", "NotSpecified")
    assert "RuntimeError" in error["message"] and "kaboom" not in json.dumps(response)
    assert "-Debug" in error["remediation"]
    debug = [line for line in lines if line.get("level") == "debug"]
    assert len(debug) == 1 and "Traceback" in debug[0]["message"] and "kaboom" in debug[0]["message"]


def test_unexpected_exception_through_the_real_process_keeps_stdout_clean():
    script = textwrap.dedent(
        """
        import sys
        from prefectwin import registry, rpc
        from prefectwin.commands.module import VersionParams, VersionResult
        def boom(params, ctx):
            raise ZeroDivisionError("division by zero in a handler")
        registry._COMMANDS["test.boom"] = registry.Command("test.boom", VersionParams, VersionResult, boom, "test", False)
        sys.exit(rpc.main([]))
        """
    )
    done = subprocess.run([sys.executable, "-X", "utf8", "-c", script], input=req("test.boom"), capture_output=True, timeout=60)
    assert done.returncode == 1
    stdout = done.stdout.decode()
    assert stdout.count("\n") == 1 and "Traceback" not in stdout
    assert json.loads(stdout)["error"]["code"] == "InternalError"
    lines = [json.loads(line) for line in done.stderr.decode().splitlines()]
    assert [line["level"] for line in lines] == ["debug"]
    assert "Traceback" in lines[0]["message"] and "ZeroDivisionError" in lines[0]["message"]


ERROR_TYPES = [
    cls for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.PrefectWinError) and cls is not errors.PrefectWinError
]


@pytest.mark.parametrize("cls", ERROR_TYPES, ids=lambda c: c.__name__)
def test_each_error_type_maps_to_the_wire(throwaway_command, cls):
    def fail(params, ctx):
        raise cls("it went wrong", target="params.port", remediation="do this", details=[{"field": "x", "message": "y"}])

    throwaway_command("test.fail", fail)
    response, code, _ = in_process(req("test.fail"))
    assert code == cls.exit_code == (2 if cls is errors.InvalidRequest else 1)
    assert response == {
        "protocol": 1,
        "ok": False,
        "error": {
            "code": cls.code,
            "category": cls.category,
            "message": "it went wrong",
            "target": "params.port",
            "remediation": "do this",
            "details": [{"field": "x", "message": "y"}],
        },
    }
    assert cls.category in POWERSHELL_ERROR_CATEGORIES


def test_error_codes_are_unique():
    codes = [cls.code for cls in ERROR_TYPES]
    assert len(codes) == len(set(codes))


# ------------------------------------------------------------------------------------------
# property: handle() always answers within the protocol
# ------------------------------------------------------------------------------------------
json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
env_test_params = st.fixed_dictionaries(
    {},
    optional={
        "pythonPath": st.one_of(st.text(max_size=30), json_values),
        "port": st.one_of(st.integers(min_value=-5, max_value=70000), json_values),
        "prefectHome": st.one_of(st.text(max_size=30), json_values),
        "role": st.one_of(st.sampled_from(["Server", "Worker", "server", ""]), json_values),
        "check": st.one_of(st.lists(st.sampled_from([*CHECK_NAMES, "nope"]), max_size=3), json_values),
    },
)
commands = st.one_of(
    st.sampled_from(["module.version", "environment.test", "module.versoin", "environment", ".", "a.b", "_x.y", "module."]),
    st.text(max_size=30),
    json_values,
)
envelopes = st.fixed_dictionaries(
    {"protocol": st.one_of(st.just(1), json_values), "command": commands},
    optional={
        "params": st.one_of(st.none(), env_test_params, st.dictionaries(st.text(max_size=10), json_values, max_size=3), json_values),
        "whatIf": st.one_of(st.booleans(), json_values),
        "cwd": st.one_of(st.sampled_from([".", "/nonexistent/prefectwin", ""]), json_values),
        "extra": json_values,
    },
)


def check_response(response, code, stream: io.StringIO) -> None:
    assert isinstance(response, dict)
    assert response["protocol"] == 1
    assert isinstance(response["ok"], bool)
    assert code in (0, 1, 2)
    assert (code == 0) == response["ok"]
    # What main() writes: it must serialise exactly as the process would send it.
    json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if response["ok"]:
        assert "result" in response and "error" not in response
    else:
        error = response["error"]
        for key in ("code", "category", "message"):
            assert isinstance(error[key], str) and error[key], error
        assert error["category"] in POWERSHELL_ERROR_CATEGORIES
        assert (code == 2) == (error["code"] == "InvalidRequest"), error
        assert error["code"] != "InternalError", f"an unexpected exception: {stream.getvalue()}"
    for line in stream.getvalue().splitlines():
        json.loads(line)


@pytest.fixture
def fast_diagnosis():
    """environment.test with its real validation but without the (1 s) gathering."""
    import prefectwin.commands.environment as environment

    with mock.patch.object(environment, "diagnose", lambda params, ctx: []):
        yield


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@PROPERTY
@given(raw=st.binary(max_size=200))
def test_property_arbitrary_bytes(fast_diagnosis, raw):
    stream = io.StringIO()
    response, code = rpc.handle(raw, Events(stream))
    check_response(response, code, stream)


@PROPERTY
@given(value=json_values, bom=st.booleans())
def test_property_arbitrary_json(fast_diagnosis, value, bom):
    stream = io.StringIO()
    raw = (BOM if bom else b"") + json.dumps(value).encode()
    response, code = rpc.handle(raw, Events(stream))
    check_response(response, code, stream)


@PROPERTY
@given(envelope=envelopes, bom=st.booleans(), ascii_only=st.booleans())
def test_property_arbitrary_envelopes(fast_diagnosis, envelope, bom, ascii_only):
    stream = io.StringIO()
    raw = (BOM if bom else b"") + json.dumps(envelope, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    here = os.getcwd()
    try:
        response, code = rpc.handle(raw, Events(stream))  # a valid "cwd" makes handle() chdir
    finally:
        os.chdir(here)
    check_response(response, code, stream)
