"""Values NSSM would change or split are refused, naming their parameter (services/nssm_rules.py).

The rules are pure; they are also driven through the real `service.install` request handler,
where parameter problems come before NotSupported on every OS.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefectwin.events import SilentEvents
from prefectwin.rpc import handle
from prefectwin.services import nssm_rules

# Absolute paths of this OS's flavour: off Windows the spec is built with POSIX paths, and the
# NSSM rules apply all the same (parameter problems come first on every OS).
SERVER = {"name": "prefect-server", "role": "Server", "pythonPath": "/opt/python/bin/python3", "prefectHome": "/var/lib/prefect"}
WORKER = {"name": "prefect-worker", "role": "Worker", "pythonPath": "/opt/python/bin/python3", "pool": "default"}
SECRET = "s3cr%ET-pw"


def install(params: dict) -> dict:
    response, _ = handle(json.dumps({"protocol": 1, "command": "service.install", "whatIf": True, "params": params}).encode(), SilentEvents())
    return response


@pytest.mark.parametrize(
    "params, target, words",
    [
        ({**SERVER, "prefectHome": "/home/%USERNAME%/prefect"}, "PrefectHome", "%USERNAME%"),
        ({**WORKER, "pool": "pool-%COMPUTERNAME%"}, "Pool", "%COMPUTERNAME%"),
        ({**SERVER, "environment": {"EXTRA": "1\r\nPREFECT_API_URL=http://evil:4200/api"}}, "Environment", "line break"),
        ({**SERVER, "environment": {"EXTRA": "a\nb"}}, "Environment", "line break"),
        ({**SERVER, "environment": {"+X": "1"}}, "Environment", "operator"),
        ({**SERVER, "environment": {"-X": "1"}}, "Environment", "operator"),
        ({**SERVER, "environment": {":X": "1"}}, "Environment", "operator"),
        # (A secret-looking name such as TOKEN goes to the secrets file, where NSSM expands nothing.)
        ({**SERVER, "environment": {"EXTRA_DIR": "%APPDATA%"}}, "Environment", "environment variable reference"),
        ({**SERVER, "bindAddress": "0.0.0.0 --port 1"}, "BindAddress", "not an IP address"),
        ({**SERVER, "dependsOn": ["bad name!"]}, "DependsOn", "not a Windows service name"),
        ({**WORKER, "pool": "--help"}, "Pool", "option"),
        ({**WORKER, "workQueue": ["-q"]}, "WorkQueue", "option"),
        ({**WORKER, "workerType": "--type"}, "WorkerType", "option"),
        ({**WORKER, "apiUrl": "http://%SERVER%:4200/api"}, "ApiUrl", "%SERVER%"),
        ({**SERVER, "logDirectory": "/var/log/%DATE%"}, "LogDirectory", "%DATE%"),
        ({**SERVER, "pythonPath": "/opt/%PY%/python3"}, "PythonPath", "%PY%"),
        ({**SERVER, "prefectHome": "/" + "p" * 300}, "PrefectHome", "characters long"),
        ({**SERVER, "logDirectory": "/" + "l" * 240}, "LogDirectory", "characters long"),  # its log files are longer
        ({**SERVER, "account": "DOMAIN\\%USER%$"}, "Account", "%USER%"),
    ],
)
def test_a_value_nssm_would_change_is_refused_naming_its_parameter(params, target, words):
    response = install(params)
    assert response["ok"] is False, response
    error = response["error"]
    assert (error["code"], error["target"]) == ("InvalidArgument", target), error
    assert words in error["message"]
    assert error["remediation"]


def test_a_secret_value_is_never_echoed():
    # A database URL goes to the secrets file, not to NSSM, so a '%' in it is no NSSM matter;
    # whatever the install answers, the password is not in it.
    response = install({**SERVER, "databaseUrl": f"postgresql+asyncpg://u:{SECRET}@db/%PGDB%"})
    assert SECRET not in json.dumps(response)
    # Nor a value NSSM would refuse, of a variable that is not secret by name.
    response = install({**SERVER, "environment": {"EXTRA": f"{SECRET}\n"}})
    assert response["error"]["target"] == "Environment" and SECRET not in json.dumps(response)
    # A secret variable goes to the secrets file, where its line break is a TOML escape.
    response = install({**SERVER, "environment": {"API_TOKEN": f"{SECRET}\n"}})
    assert response["error"]["code"] == "NotSupported" and SECRET not in json.dumps(response)


@pytest.mark.parametrize(
    "params",
    [
        {**SERVER, "databaseUrl": "postgresql+asyncpg://prefect%40corp@db:5432/prefect", "databaseCredential": {"userName": "prefect@corp", "password": "p%USERNAME%"}},
        {**SERVER, "environment": {"RATIO": "100%", "URL": "http://x/a%20b"}},
        {**SERVER, "bindAddress": "0.0.0.0", "allowAnonymous": True},
        {**SERVER, "bindAddress": "::", "allowAnonymous": True},
        {**SERVER, "bindAddress": "prefect-01.corp.example", "allowAnonymous": True},
        {**SERVER, "dependsOn": ["MSSQL$SQLEXPRESS", "postgresql-x64-16"]},
        {**WORKER, "pool": "my pool", "workQueue": ["high", "low"]},
    ],
)
def test_values_nssm_passes_on_unchanged_are_accepted(params):
    # A password's '%' is written as %25 inside the URL, so NSSM leaves it alone.
    response = install(params)
    assert response["error"]["code"] == "NotSupported", response["error"]


def test_expanded_variable_follows_expand_environment_strings():
    assert nssm_rules.expanded_variable("C:\\%A%\\b") == "%A%"
    assert nssm_rules.expanded_variable("C:\\%DATE%") == "%DATE%"  # hex-looking names too
    assert nssm_rules.expanded_variable("50% or 60%") == "% or 60%"
    assert nssm_rules.expanded_variable("%%") is None
    assert nssm_rules.expanded_variable("p%40x%3Ay") == "%40x%"  # no escapes outside URLs
    assert nssm_rules.expanded_variable("p%40x%3Ay", url=True) is None  # URL escapes
    assert nssm_rules.expanded_variable("%40a%PATH%", url=True) == "%PATH%"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["path", "text", "url", "argument", "host", "service", "env-name", "secret"]))
def test_accepted_values_hold_nothing_nssm_would_touch(value, rule):
    if nssm_rules.problem(value, rule) is None:
        assert "\r" not in value and "\n" not in value and "\x00" not in value
        assert nssm_rules.expanded_variable(value, url=rule in ("url", "secret")) is None
        if rule in ("argument", "host"):
            assert not value.startswith("-")
        if rule == "env-name":
            assert value and value[0] not in "+-:" and "=" not in value
