"""dsc.get / dsc.test / dsc.set / dsc.export and the DSC v3 manifests.

PrefectSetting runs for real: the real target interpreter and a real profiles.toml (isolated by
conftest), with `prefect config view` as the oracle, and the real WindowsAdapter on the fake
.NET surface for a Machine variable. PrefectService runs against the stateful fake service
adapter (Windows services exist only on Windows). The manifests are checked against the shape
the DSC v3 manifest schema requires, and the command lines they declare are run exactly as
declared, the instance JSON on stdin, their stdout checked against the embedded schema. The
`dsc` executable itself is not on this machine and is never run here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from fakes.config import ConfigDotNet, call, prefect_config_view

import prefectwin.system as system
from prefectwin.dsc import manifest as dsc_manifest
from prefectwin.dsc.instances import DSC_TYPES, MODELS, instance_schema
from prefectwin.services import validate

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((REPO / "dsc").glob("*.dsc.resource.json"))
URL = "http://127.0.0.1:4250/api"
PASSWORD = "Kea-Ünïq-5b7&:@/%y"
QUOTED = urllib.parse.quote(PASSWORD, safe="")


def dsc(verb: str, resource: str, what_if: bool = False, **properties: Any) -> tuple[dict, int, list[dict]]:
    return call(f"dsc.{verb}", {"resource": resource, "properties": properties}, what_if=what_if)


def ok(answer: tuple[dict, int, list[dict]]) -> Any:
    response, code, _ = answer
    assert code == 0 and response["ok"], response
    return response["result"]


def refused(answer: tuple[dict, int, list[dict]], target: str, code: str = "InvalidArgument") -> dict:
    response, _, _ = answer
    assert not response["ok"], response
    error = response["error"]
    assert (error["code"], error["target"]) == (code, target), error
    return error


# -- PrefectSetting, for real -----------------------------------------------------------------
def test_setting_at_profile_scope_test_set_get_agree_with_prefect(monkeypatch):
    setting = {"Name": "PREFECT_API_URL", "Scope": "Profile", "Value": URL}
    test = ok(dsc("test", "PrefectSetting", **setting))
    assert test["inDesiredState"] is False and test["differingProperties"] == ["ensure", "value"]
    assert test["properties"] == {"name": "PREFECT_API_URL", "scope": "Profile", "ensure": "Absent", "source": "default"}
    assert [a["kind"] for a in test["actions"]] == ["profile.set"]
    assert not Path(os.environ["PREFECT_PROFILES_PATH"]).exists(), "Test changed nothing"

    done = ok(dsc("set", "PrefectSetting", **setting))
    assert done["changed"] is True and done["properties"]["value"] == URL
    oracle = prefect_config_view()
    assert (oracle["PREFECT_API_URL"]["value"], oracle["PREFECT_API_URL"]["source"]) == (URL, "profile")
    again = ok(dsc("test", "PrefectSetting", **setting))
    assert again["inDesiredState"] is True and again["differingProperties"] == [] and again["actions"] == []
    assert again["properties"] == {"name": "PREFECT_API_URL", "scope": "Profile", "ensure": "Present", "value": URL, "source": f"profile:{oracle['profile']}"}

    # Get reads what the scope holds, not the effective value another scope supplies.
    monkeypatch.setenv("PREFECT_API_URL", "http://10.0.0.9:4200/api")
    state = ok(dsc("get", "PrefectSetting", name="PREFECT_API_URL", scope="Profile"))["properties"]
    assert state["value"] == URL and state["source"] == "env:PREFECT_API_URL"
    monkeypatch.delenv("PREFECT_API_URL")

    absent = {"Name": "PREFECT_API_URL", "Scope": "Profile", "Ensure": "Absent"}
    removed = ok(dsc("set", "PrefectSetting", **absent))
    assert removed["properties"]["ensure"] == "Absent" and [a["kind"] for a in removed["actions"]] == ["profile.unset"]
    assert prefect_config_view()["PREFECT_API_URL"]["source"] != "profile"


def test_one_setting_in_two_scopes_profile_and_machine():
    """The point of the Name+Scope key: the profile and a Machine variable, each its own instance."""
    previous = system._override
    net = ConfigDotNet(is_admin=True)
    from prefectwin.system.windows import WindowsAdapter

    system.use_adapter(WindowsAdapter(net=net))
    try:
        machine = {"name": "PREFECT_API_URL", "scope": "Machine", "value": "http://127.0.0.1:4200/api"}
        profile = {"name": "PREFECT_API_URL", "scope": "Profile", "value": URL}
        for instance in (machine, profile):
            assert ok(dsc("set", "PrefectSetting", **instance))["changed"] is True
        assert net.machine_environment() == {"PREFECT_API_URL": "http://127.0.0.1:4200/api"}
        assert prefect_config_view()["PREFECT_API_URL"]["value"] == URL
        scopes = {(e["properties"]["name"], e["properties"]["scope"]) for e in ok(call("dsc.export", {"resource": "PrefectSetting"}))}
        assert {("PREFECT_API_URL", "Profile"), ("PREFECT_API_URL", "Machine")} <= scopes
    finally:
        system.use_adapter(previous)


@pytest.mark.parametrize(
    ("properties", "target", "words"),
    [
        ({"name": "PREFECT_API_URL", "scope": "Process", "value": URL}, "properties.scope", "DSC host process"),
        ({"name": "PREFECT_API_URL", "value": URL}, "properties.scope", "Scope Field required"),
        ({"name": "PREFECT_API_URL", "scope": "Profile"}, "properties.value", "Value is required"),
        ({"name": "PREFECT_API_URL", "scope": "Profile", "value": URL, "Colour": "blue"}, "properties.Colour", "not a property"),
        ({"name": "PREFECT_SERVER_API_PORT", "scope": "Profile", "value": "not a port"}, "properties.value", "Prefect refuses"),
        ({"name": "PREFECT_API_URK", "scope": "Profile", "value": URL}, "properties.name", "PREFECT_API_URL"),
        ({"name": "PREFECT_API_URL", "scope": "User", "value": URL}, "properties.scope", "Windows"),
    ],
)
def test_setting_refusals_name_the_property_and_write_nothing(properties, target, words):
    response, _, _ = dsc("set", "PrefectSetting", **properties)
    error = response["error"]
    assert error["target"] == target, error
    assert words in error["message"] + " " + (error.get("remediation") or ""), error
    assert not Path(os.environ["PREFECT_PROFILES_PATH"]).exists()


# -- PrefectService, on the fake adapter ------------------------------------------------------
@pytest.fixture
def services(dsc_service_adapter):
    return dsc_service_adapter


def server(tmp_path, free_port, **extra) -> dict:
    return {"Name": "PrefectServer", "Role": "Server", "PrefectHome": str(tmp_path / "home"), "Port": free_port(), **extra}


def test_service_get_test_set_export_and_absent(services, tmp_path, free_port):
    desired = server(tmp_path, free_port)
    assert ok(dsc("get", "PrefectService", **desired))["properties"] == {"name": "PrefectServer", "ensure": "Absent"}
    assert ok(dsc("set", "PrefectService", what_if=True, **desired))["actions"], "whatIf returns the plan"
    test = ok(dsc("test", "PrefectService", **desired))
    assert test["inDesiredState"] is False and test["differingProperties"] == ["ensure"]
    assert services.changing_calls() == []

    answer = dsc("set", "PrefectService", **desired)
    done = ok(answer)
    assert done["changed"] is True and done["properties"]["status"] == "Running"
    assert [a["kind"] for a in done["actions"]][-1] == "start-service"
    # The class's Set shows what it did through the relayed verbose events, one per action.
    relayed = [e["message"] for e in answer[2] if e.get("level") == "verbose" and e["message"].startswith("Changed: ")]
    assert relayed == [f"Changed: {a['description']}" for a in done["actions"]]
    after = ok(dsc("test", "PrefectService", **desired))
    assert after["inDesiredState"] is True and after["actions"] == []
    assert {k: after["properties"][k] for k in ("role", "port", "prefectHome")} == {"role": "Server", "port": desired["Port"], "prefectHome": desired["PrefectHome"]}

    services.services["prefectserver"].status = "Stopped"
    stopped = ok(dsc("test", "PrefectService", **desired))
    assert stopped["differingProperties"] == ["status"] and [a["kind"] for a in stopped["actions"]] == ["start-service"]
    moved = ok(dsc("test", "PrefectService", **{**desired, "Port": desired["Port"] + 1}))
    assert "port" in moved["differingProperties"]

    exported = ok(call("dsc.export", {"resource": "PrefectService"}))
    assert [e["properties"]["name"] for e in exported] == ["PrefectServer"]

    absent = {"Name": "PrefectServer", "Ensure": "Absent"}
    assert ok(dsc("test", "PrefectService", **absent))["differingProperties"] == ["ensure"]
    ok(dsc("set", "PrefectService", **absent))
    assert "prefectserver" not in services.services
    assert ok(dsc("test", "PrefectService", **absent))["inDesiredState"] is True


def test_a_database_url_with_a_password_is_refused_naming_the_property(services, tmp_path, free_port):
    url = f"postgresql+asyncpg://prefect:{QUOTED}@db01:5432/prefect"
    for verb in ("test", "set"):
        response, _, events = dsc(verb, "PrefectService", **server(tmp_path, free_port, DatabaseUrl=url))
        error = refused((response, 1, events), "properties.databaseUrl")
        assert "DatabaseUrl holds a password" in error["message"] and "DatabaseCredential" in error["remediation"]
        shown = json.dumps(response, ensure_ascii=False) + json.dumps(events, ensure_ascii=False)
        assert PASSWORD not in shown and QUOTED not in shown
    assert services.changing_calls() == []


def test_database_url_variable_is_read_from_the_machine_environment(services, tmp_path, free_port):
    desired = server(tmp_path, free_port, DatabaseUrlVariable="PREFECT_DB_URL")
    refused(dsc("test", "PrefectService", **desired), "properties.databaseUrlVariable")
    refused(dsc("test", "PrefectService", **{**desired, "DatabaseUrl": "postgresql+asyncpg://prefect@db01/prefect"}), "properties.databaseUrlVariable")
    services.machine["PREFECT_DB_URL"] = f"postgresql+asyncpg://prefect:{QUOTED}@db01:5432/prefect"
    done = dsc("set", "PrefectService", **desired)
    assert ok(done)["changed"] is True
    shown = json.dumps(done[0], ensure_ascii=False) + json.dumps(done[2], ensure_ascii=False)
    assert PASSWORD not in shown and QUOTED not in shown
    environment = dict(e.partition("=")[::2] for e in services.services["prefectserver"].parameters["AppEnvironmentExtra"])
    from prefectwin.services.secrets_file import file_values

    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in environment  # in the service's secrets file instead
    assert "db01" in file_values(services.secret_files[environment["PREFECT_PROFILES_PATH"]])["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
    assert ok(dsc("test", "PrefectService", **desired))["inDesiredState"] is True


def _log_settings(services) -> tuple[tuple[str, ...], Any]:
    service = services.services["prefectserver"]
    return service.parameters["AppRotateSeconds"], json.loads(service.marker)["logRetention"]["days"]


def test_zero_log_rotate_seconds_and_retention_days_mean_off_as_on_install(services, tmp_path, free_port):
    desired = server(tmp_path, free_port, LogRotateSeconds=0, LogRetentionDays=0)
    assert ok(dsc("set", "PrefectService", **desired))["changed"] is True
    assert _log_settings(services) == (("0",), 0)  # no time rotation, no age limit: not the 1 day and 30 days defaults
    assert ok(dsc("test", "PrefectService", **desired))["inDesiredState"] is True
    hourly = ok(dsc("test", "PrefectService", **{**desired, "LogRotateSeconds": 3600}))
    assert hourly["inDesiredState"] is False and "logRotateSeconds" in hourly["differingProperties"], hourly
    assert any("AppRotateSeconds" in a["description"] for a in hourly["actions"]), hourly["actions"]


def test_unset_log_rotate_seconds_and_retention_days_are_not_managed(services, tmp_path, free_port):
    desired = server(tmp_path, free_port)
    ok(dsc("set", "PrefectService", **{**desired, "LogRotateSeconds": 0, "LogRetentionDays": 7}))
    # A configuration that leaves them out (as a PowerShell class sends them: null) changes neither.
    for unset in ({}, {"LogRotateSeconds": None, "LogRetentionDays": None}):
        test = ok(dsc("test", "PrefectService", **desired, **unset))
        assert test["inDesiredState"] is True and test["actions"] == [], test
        ok(dsc("set", "PrefectService", **desired, **unset))
        assert _log_settings(services) == (("0",), 7)


def test_a_new_service_without_the_log_properties_gets_install_s_defaults(services, tmp_path, free_port):
    ok(dsc("set", "PrefectService", **server(tmp_path, free_port)))
    assert _log_settings(services) == (("86400",), 30)


@pytest.mark.parametrize(
    ("extra", "target"),
    [({"Role": None}, "properties.role"), ({"StartupType": "Sometimes"}, "properties.startupType"), ({"Port": "4200"}, "properties.port")],
)
def test_service_refusals_name_the_property_and_change_nothing(services, tmp_path, free_port, extra, target):
    desired = {k: v for k, v in {**server(tmp_path, free_port), **extra}.items() if v is not None}
    refused(dsc("set", "PrefectService", **desired), target)
    assert services.changing_calls() == []


def test_service_is_not_supported_off_windows():
    if sys.platform == "win32":
        pytest.skip("Windows has services")
    for verb in ("get", "test", "set"):
        refused(dsc(verb, "PrefectService", Name="PrefectServer", Role="Server"), "Service", code="NotSupported")
    refused(call("dsc.export", {"resource": "PrefectService"}), "Service", code="NotSupported")


# -- the DSC v3 manifests ---------------------------------------------------------------------
# The parts of the DSC v3 manifest schema (schemas/v3/bundled/resource/manifest.json in
# PowerShell/DSC) that these manifests use, written out: required keys, the type name and
# semver patterns, each method's executable/args/input, the return kinds and exit codes.
METHOD = {
    "type": "object",
    "required": ["executable"],
    "properties": {
        "executable": {"type": "string", "minLength": 1},
        "args": {"type": "array", "items": {"type": "string"}},
        "input": {"enum": ["env", "stdin"]},
        "return": {"enum": ["state", "stateAndDiff"]},
        "implementsPretest": {"type": "boolean"},
        "handlesExist": {"type": "boolean"},
    },
    "additionalProperties": False,
}
MANIFEST_SHAPE = {
    "type": "object",
    "required": ["$schema", "type", "version", "get"],
    "properties": {
        "$schema": {"const": "https://aka.ms/dsc/schemas/v3/bundled/resource/manifest.json"},
        "type": {"type": "string", "pattern": r"^\w+(\.\w+){0,2}\/\w+$"},
        "version": {"type": "string", "pattern": r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"},
        "description": {"type": "string"},
        "tags": {"type": "array", "uniqueItems": True, "items": {"type": "string", "pattern": r"^\w+$"}},
        "get": METHOD,
        "test": METHOD,
        "set": METHOD,
        "export": {**METHOD, "required": ["executable", "input"]},
        "exitCodes": {"type": "object", "propertyNames": {"pattern": "^-?[0-9]+$"}, "additionalProperties": {"type": "string"}},
        "schema": {
            "type": "object",
            "required": ["embedded"],
            "properties": {
                "embedded": {
                    "type": "object",
                    "required": ["$schema", "type", "properties"],
                    "properties": {
                        "$schema": {"enum": ["https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2019-09/schema", "http://json-schema.org/draft-07/schema#"]},
                        "type": {"const": "object"},
                        "properties": {"type": "object", "minProperties": 1},
                    },
                }
            },
        },
    },
    "additionalProperties": False,
}
IN_DESIRED_STATE = "https://raw.githubusercontent.com/PowerShell/DSC/main/schemas/v3/resource/properties/inDesiredState.json"


def validator(schema: dict):
    """A draft 2020-12 validator that resolves DSC's _inDesiredState reference locally (no network)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    registry = Registry().with_resource(IN_DESIRED_STATE, Resource.from_contents({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "boolean"}))
    return Draft202012Validator(schema, registry=registry)


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_manifests_are_the_registry_s_and_have_the_required_shape():
    assert [p.name for p in MANIFESTS] == ["PrefectWin.Service.dsc.resource.json", "PrefectWin.Setting.dsc.resource.json"]
    for path in MANIFESTS:
        manifest = load(path)
        assert path.read_text(encoding="utf-8") == dsc_manifest.manifest_text(manifest["type"]), f"{path.name}: regenerate with 'prefectwin dsc manifest --resource {manifest['type']}'"
        assert path.name == manifest["type"].replace("/", ".") + ".dsc.resource.json"
        errors = [e.message for e in validator(MANIFEST_SHAPE).iter_errors(manifest)]
        assert errors == [], f"{path.name}: {errors}"
        embedded = manifest["schema"]["embedded"]
        assert embedded == instance_schema(DSC_TYPES[manifest["type"]])
        model = MODELS[DSC_TYPES[manifest["type"]]]
        assert set(embedded["properties"]) == {f.alias for f in model.model_fields.values()} | {"_inDesiredState"}
        for operation in dsc_manifest.OPERATIONS:
            assert manifest[operation]["args"] == ["dsc", operation, "--resource", manifest["type"]] and manifest[operation]["input"] == "stdin"
        assert manifest["test"]["return"] == "stateAndDiff" and manifest["set"]["return"] == "state"


def declared(manifest: dict, operation: str, instance: Any) -> subprocess.CompletedProcess:
    """Run the command line the manifest declares for `operation`, as DSC would: the executable
    found on PATH (this interpreter's scripts folder, where pip put `prefectwin`), the args as
    they are, and the instance as compressed JSON on stdin."""
    method = manifest[operation]
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    stdin = "" if instance is None else json.dumps(instance, separators=(",", ":"))
    return subprocess.run([method["executable"], *method["args"]], input=stdin.encode(), capture_output=True, env=env, timeout=180)


def lines(done: subprocess.CompletedProcess) -> list[Any]:
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_the_setting_manifest_s_command_lines_for_real():
    manifest = load(REPO / "dsc" / "PrefectWin.Setting.dsc.resource.json")
    state = validator(manifest["schema"]["embedded"])
    instance = {"name": "PREFECT_API_URL", "scope": "Profile", "value": URL}

    got = declared(manifest, "get", instance)
    assert got.returncode == 0, got.stderr
    (actual,) = lines(got)
    state.validate(actual)
    assert actual["ensure"] == "Absent"

    tested = declared(manifest, "test", instance)
    assert tested.returncode == 0, tested.stderr
    actual, diff = lines(tested)
    state.validate(actual)
    assert actual["_inDesiredState"] is False and diff == ["ensure", "value"]
    assert all(set(json.loads(line)) <= {"error", "warn", "info", "debug", "trace"} for line in tested.stderr.decode().splitlines())

    done = declared(manifest, "set", instance)
    assert done.returncode == 0, done.stderr
    (after,) = lines(done)
    state.validate(after)
    oracle = prefect_config_view()
    assert after["value"] == URL and oracle["PREFECT_API_URL"]["source"] == "profile"

    exported = declared(manifest, "export", None)
    assert exported.returncode == 0, exported.stderr
    for item in lines(exported):
        state.validate(item)
    assert any(item["name"] == "PREFECT_API_URL" and item["value"] == URL for item in lines(exported))
    assert {item["name"] for item in lines(exported)} == {k for k, v in oracle.items() if k != "profile" and v["source"] == "profile"}
    assert all(item["scope"] == "Profile" for item in lines(exported))

    bad = declared(manifest, "set", {"name": "PREFECT_SERVER_API_PORT", "scope": "Profile", "value": "x"})
    assert bad.returncode == 1 and bad.stdout == b""
    assert "Prefect refuses" in json.loads(bad.stderr.decode().splitlines()[-1])["error"]
    garbage = subprocess.run([sys.executable, "-m", "prefectwin", "dsc", "get", "--resource", "PrefectWin/Setting"], input=b"[1]", capture_output=True, timeout=60)
    assert garbage.returncode == 2 and "JSON object" in json.loads(garbage.stderr.decode())["error"]


def test_the_service_manifest_s_command_line_says_not_supported_off_windows():
    if sys.platform == "win32":
        pytest.skip("Windows has services")
    manifest = load(REPO / "dsc" / "PrefectWin.Service.dsc.resource.json")
    done = declared(manifest, "get", {"name": "PrefectServer"})
    assert done.returncode == 1 and done.stdout == b""
    assert "only on Windows" in json.loads(done.stderr.decode().splitlines()[-1])["error"]
