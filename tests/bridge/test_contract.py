"""Contract fixtures: the requests each cmdlet sends and the responses it must handle.

tests/contract/<Cmdlet>/<case>.json is read by two test suites:
  - Pester (tests/PrefectWin.Tests.ps1) invokes <Cmdlet> with `invocation`, asserts that it sends
    exactly `request` (Mock Invoke-PrefectBackend -ModuleName PrefectWin), feeds it `response`,
    and asserts the objects or the error it then writes.
  - pytest (this file) sends `request` to the REAL backend, `python -m prefectwin rpc`, and
    asserts the exit code and the `compare` paths, so the two sides cannot drift apart.

Format:
  {
    "cmdlet": "Test-PrefectEnvironment",           # = the directory name, a Public/ function
    "description": "what this case shows",
    "platform": "any" | "posix" | "windows",       # where pytest can reproduce the response
    "invocation": {"Port": 4200, "Check": ["port.available"]},   # PowerShell parameters
    "request": {"protocol": 1, "command": ..., "params": {...}, "whatIf": false},
    "response": {...},                             # recorded from the real backend, never typed
    "exitCode": 0,
    "compare": ["/result/0/status", ...],          # JSON pointers that must match exactly;
                                                   # /protocol and /ok are always compared
    "bindingError": "ParameterArgumentValidationError",  # optional: PowerShell rejects the
                                                   # invocation before any request is sent
    "safeToApply": "why applying this on the test machine changes nothing that matters",
                                                   # required when a state-changing command is
                                                   # sent with whatIf:false (pytest replays it!)
    "output": "/result/results"                    # optional: the part of the last response
                                                   # the cmdlet outputs; "/result" by default
    "withheld": ["environment"]                    # optional: top-level properties of that
                                                   # output the cmdlet consumes and never passes
                                                   # on (plain-text assignments it applied)
  }
A cmdlet that calls the backend more than once (plan, then apply) lists the exchanges in
"calls": [{"request", "response", "exitCode", "compare"}, ...] instead of the top-level four.

The envelope's "cwd" (and a session request's "id") is NOT recorded. `request` is what the cmdlet
hands to Invoke-PrefectBackend, the one seam Pester mocks; the bridge adds the prompt's location
as cwd below that seam, and it differs per machine and per prompt. So a fixture's request has
exactly protocol, command, params and whatIf (test_fixture_is_well_formed), Pester compares
exactly that, and this file replays each request the way the bridge sends it: Python started in
the module's folder (the repository root), with "cwd" added, set to a scratch folder that stands
for the user's prompt (run_rpc). The Pester unit tests of ConvertTo-PrefectRequestJson cover the
cwd and id fields themselves.

Record or re-record responses (never write them by hand):
    .venv/bin/python tests/bridge/test_contract.py tests/contract/Test-PrefectEnvironment/<case>.json
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

CONTRACT = Path(__file__).resolve().parents[1] / "contract"
REPO = CONTRACT.parent.parent
FIXTURES = sorted(CONTRACT.glob("*/*.json"))
PLATFORMS = {"any", "posix", "windows"}
TIMEOUT_SECONDS = 120
# The cmdlets set apart (session cmdlets; parameters with no params field), with their reasons;
# tests/Module.Tests.ps1 checks the same file against Get-Command.
EXCEPTIONS = json.loads((REPO / "tests" / "public-cmdlets.json").read_text(encoding="utf-8"))
SESSION_CMDLETS = set(EXCEPTIONS["sessionCmdlets"])
POWERSHELL_ONLY_PARAMETERS: dict[str, dict[str, str]] = EXCEPTIONS["powerShellOnlyParameters"]
# PowerShell's common parameters: an invocation may pass them, and they are never params fields.
COMMON_PARAMETERS = frozenset(
    """Verbose Debug ErrorAction WarningAction InformationAction ProgressAction ErrorVariable
    WarningVariable InformationVariable OutVariable OutBuffer PipelineVariable WhatIf Confirm""".split()
)


def camel(name: str) -> str:
    """A PowerShell parameter's params field: -DatabaseUrl is databaseUrl."""
    return name[:1].lower() + name[1:]


@functools.lru_cache(maxsize=1)
def backend_schema() -> dict[str, Any]:
    """`python -m prefectwin rpc --schema`, from the interpreter running the tests; once per session."""
    completed = subprocess.run(
        [sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc", "--schema"], capture_output=True, timeout=TIMEOUT_SECONDS, check=True, cwd=REPO
    )
    return json.loads(completed.stdout)


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def exchanges(fixture: dict[str, Any]) -> list[dict[str, Any]]:
    return list(fixture["calls"]) if "calls" in fixture else [fixture]


# The "prompt" of the replayed requests: an empty folder, never the repository or the module.
PROMPT = Path(tempfile.mkdtemp(prefix="prefectwin-prompt-"))
atexit.register(shutil.rmtree, PROMPT, True)


def sent(request: dict[str, Any]) -> dict[str, Any]:
    """The fixture's request as the bridge sends it: with the prompt's location as cwd."""
    return {**request, "cwd": str(PROMPT)}


def run_rpc(request: dict[str, Any]) -> tuple[dict[str, Any], int, str]:
    """One request through the real bridge, as PowerShell runs it: `python -X utf8 -m prefectwin rpc`
    started in the module's folder, with the prompt's location in the request (see the docstring)."""
    completed = subprocess.run(
        [sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc"],
        input=json.dumps(sent(request)).encode("utf-8"),
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
        cwd=REPO,
    )
    stdout = completed.stdout.decode("utf-8")
    assert stdout.count("\n") == 1 and stdout.endswith("\n"), f"stdout must be exactly one JSON line: {stdout!r}"
    return json.loads(stdout), completed.returncode, completed.stderr.decode("utf-8", "replace")


def pointer(document: Any, path: str) -> Any:
    """RFC 6901 JSON pointer lookup; KeyError/IndexError when the path does not exist."""
    if path == "":
        return document
    if not path.startswith("/"):
        raise KeyError(f"a JSON pointer starts with '/': {path!r}")
    current = document
    for raw in path[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, list):
            current = current[int(part)]
        else:
            current = current[part]
    return current


def applies_changes(exchange: dict[str, Any]) -> bool:
    """A request that would change this machine: a changesState command without whatIf."""
    commands = backend_schema().get("commands", {})
    request = exchange["request"]
    return bool(commands.get(request["command"], {}).get("changesState")) and not request["whatIf"]


def runnable_here(fixture: dict[str, Any]) -> bool:
    platform = fixture.get("platform", "any")
    if platform == "posix":
        return sys.platform != "win32"
    if platform == "windows":
        return sys.platform == "win32"
    return True


@pytest.fixture(scope="session")
def live_responses() -> dict[tuple[str, int], tuple[dict[str, Any], int, str]]:
    """Every runnable fixture request through the real backend, concurrently (one process each)."""
    jobs = {}
    for path in FIXTURES:
        fixture = load(path)
        if runnable_here(fixture):
            for index, exchange in enumerate(exchanges(fixture)):
                if applies_changes(exchange) and not str(fixture.get("safeToApply", "")).strip():
                    continue  # never apply a change nobody vouched for; the well-formed test fails
                jobs[(fixture_id(path), index)] = exchange["request"]
    with ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2))) as pool:
        futures = {key: pool.submit(run_rpc, request) for key, request in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


def test_there_are_fixtures_for_every_public_cmdlet() -> None:
    """Except the session cmdlets, which send no request of their own (they manage the process
    that serves the others; see tests/public-cmdlets.json)."""
    public = {path.stem for path in (REPO / "Public").glob("*.ps1")} - SESSION_CMDLETS
    covered = {path.parent.name for path in FIXTURES}
    assert public <= covered, f"cmdlets without contract fixtures: {sorted(public - covered)}"
    assert not covered & SESSION_CMDLETS


def test_replayed_requests_carry_the_prompt_as_cwd() -> None:
    """What run_rpc sends is what the bridge sends: the fixture's request plus cwd."""
    request = {"protocol": 1, "command": "module.version", "params": {}, "whatIf": False}
    assert sent(request) == {**request, "cwd": str(PROMPT)}
    assert PROMPT.is_dir() and PROMPT.resolve() != REPO.resolve()
    response, exit_code, _ = run_rpc(request)
    assert exit_code == 0 and response["ok"], response


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture_is_well_formed(path: Path) -> None:
    fixture = load(path)
    assert fixture["cmdlet"] == path.parent.name, "a fixture lives in the directory of its cmdlet"
    assert (REPO / "Public" / f"{fixture['cmdlet']}.ps1").is_file(), "the cmdlet is a Public/ function"
    assert fixture.get("description"), "say what the case shows"
    assert fixture.get("platform", "any") in PLATFORMS
    assert isinstance(fixture["invocation"], dict)
    assert ("calls" in fixture) != ("request" in fixture), "either request/response/exitCode/compare or calls"
    for exchange in exchanges(fixture):
        request, response = exchange["request"], exchange.get("response")
        assert isinstance(response, dict), (
            f"no recorded response: run '.venv/bin/python tests/bridge/test_contract.py {path.relative_to(REPO).as_posix()}'"
        )
        assert set(request) - {"apply"} == {"protocol", "command", "params", "whatIf"}, (
            "a request as the cmdlet hands it to Invoke-PrefectBackend: no cwd or id (see the module docstring)"
        )
        assert "apply" not in request or not request["whatIf"], "apply goes with the apply request, never with whatIf"
        assert request["protocol"] == 1 and isinstance(request["whatIf"], bool)
        assert response["protocol"] == 1 and isinstance(response["ok"], bool)
        assert exchange["exitCode"] in ((0,) if response["ok"] else (1, 2))
        assert isinstance(exchange["compare"], list)
        for compared in exchange["compare"]:
            pointer(response, compared)  # every compared path exists in the recorded response
        if applies_changes(exchange):
            assert str(fixture.get("safeToApply", "")).strip(), (
                f"{request['command']} with whatIf:false is replayed on the test machine by pytest: "
                "say in 'safeToApply' why that is harmless, or record the whatIf:true plan instead"
            )
    last = exchanges(fixture)[-1]["response"]
    if last["ok"]:
        pointer(last, fixture.get("output", "/result"))  # what the cmdlet outputs exists in the response


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_request_params_are_the_invocation_parameters(path: Path) -> None:
    """Pester runs the real cmdlet with `invocation` (so it has those parameters, and sends the
    backend command it sends) and asserts it sends `request`; here the two must name the same
    parameters (PascalCase -> camelCase), the cmdlet passing on exactly what it was given, and
    every exchange of one fixture sends the same command."""
    fixture = load(path)
    invoked = set(fixture["invocation"])
    powershell_only = set(POWERSHELL_ONLY_PARAMETERS.get(fixture["cmdlet"], {}))
    expected = {camel(name) for name in invoked - COMMON_PARAMETERS - powershell_only}
    commands = {exchange["request"]["command"] for exchange in exchanges(fixture)}
    assert len(commands) == 1, f"a cmdlet maps to one backend command, not {sorted(commands)}"
    assert commands <= set(backend_schema()["commands"]), "the backend has the command"
    for exchange in exchanges(fixture):
        assert set(exchange["request"]["params"]) == expected


@pytest.mark.parametrize("path", [path for path in FIXTURES if load(path).get("bindingError")], ids=fixture_id)
def test_binding_error_is_rejected_by_the_backend_too(path: Path) -> None:
    """`bindingError` says PowerShell rejects the invocation before sending anything; Pester
    invokes the real cmdlet and asserts exactly that error (and, for every other fixture, that
    the cmdlet runs). Here: the error is a validation one or parameters from two parameter sets,
    and what PowerShell rejects, the backend rejects as well (exit 2), so a caller without the
    cmdlet is safe."""
    fixture = load(path)
    assert fixture["bindingError"] in ("ParameterArgumentValidationError", "AmbiguousParameterSet")
    for exchange in exchanges(fixture):
        assert exchange["exitCode"] == 2, "what PowerShell rejects, the backend must reject as well"


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_backend_answers_as_recorded(path: Path, live_responses) -> None:
    fixture = load(path)
    if not runnable_here(fixture):
        pytest.skip(f"recorded on {fixture['platform']}; the backend answers differently on {sys.platform}")
    for index, exchange in enumerate(exchanges(fixture)):
        if (fixture_id(path), index) not in live_responses:
            pytest.fail(f"exchange {index} changes state and has no 'safeToApply'; it was not replayed")
        response, exit_code, stderr = live_responses[(fixture_id(path), index)]
        recorded = exchange["response"]
        assert exit_code == exchange["exitCode"], f"exit code {exit_code}; stderr:\n{stderr[-2000:]}"
        for compared in ["/protocol", "/ok", *exchange["compare"]]:
            assert pointer(response, compared) == pointer(recorded, compared), f"{compared} differs"


def record(path: Path) -> None:
    """Run the fixture's request(s) through the real backend and store response and exit code."""
    fixture = load(path)
    previous = None
    for exchange in exchanges(fixture):
        request = exchange["request"]
        if "apply" in request and previous is not None and previous["ok"]:
            # The apply request carries the plan the whatIf answer before it showed.
            shown = previous["result"]
            request["apply"] = {
                "confirm": request["apply"].get("confirm", [a["id"] for a in shown["actions"]]),
                "plan": {
                    "actions": shown["actions"],
                    "fingerprint": shown["fingerprint"],
                },
                "planId": shown["planId"],
            }
        response, exit_code, _ = run_rpc(request)
        previous = response
        exchange["response"] = response
        exchange["exitCode"] = exit_code
        exchange.setdefault("compare", [])
    order = ["cmdlet", "description", "platform", "invocation", "bindingError", "request", "response", "exitCode", "compare", "calls"]
    ordered = {key: fixture[key] for key in order if key in fixture}
    ordered.update({key: value for key, value in fixture.items() if key not in ordered})
    path.write_text(json.dumps(ordered, indent=2, ensure_ascii=True) + "\n", encoding="utf-8")
    print(f"recorded {fixture_id(path)}: exit {[e['exitCode'] for e in exchanges(fixture)]}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for argument in sys.argv[1:]:
        record(Path(argument).resolve())


def _output_objects(fixture: dict) -> list:
    last = exchanges(fixture)[-1]["response"]
    if not last["ok"]:
        return []
    selected = pointer(last, fixture.get("output", "/result"))
    return [o for o in (selected if isinstance(selected, list) else [selected]) if isinstance(o, dict)]


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_plain_text_assignments_are_withheld_from_output(path: Path) -> None:
    """`environment` assignments carry plain values, a secret setting's too: the cmdlet applies
    them to the caller's session and must not put them on the pipeline. Pester checks the object
    the cmdlet outputs lacks every `withheld` name; here every fixture whose output carries
    assignments must say so, and the cmdlet must pass those names to -ExcludeProperty."""
    fixture = load(path)
    withheld = fixture.get("withheld", [])
    outputs = _output_objects(fixture)
    for obj in outputs:
        if "environment" in obj:
            assert "environment" in withheld, f"{path.name}: output carries 'environment' assignments; withhold them"
        for name in withheld:
            assert name in obj, f"{path.name}: withheld '{name}' is not in the output object"
    if withheld:
        source = (REPO / "Public" / f"{fixture['cmdlet']}.ps1").read_text(encoding="utf-8")
        for name in withheld:
            assert f"-ExcludeProperty '{name}'" in source, f"{fixture['cmdlet']} does not exclude '{name}' from its output"
