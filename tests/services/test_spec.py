"""The ServiceSpec: what build_spec derives from the parameters, and what it refuses."""
from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from prefectwin.errors import InvalidArgument
from prefectwin.services.plan import reveal
from prefectwin.services.spec import (
    SERVER_STOP_TIMEOUT_MS,
    STOP_METHOD_SKIP,
    WORKER_STOP_TIMEOUT_MS,
    build_spec,
    parse_marker,
)
from service_helpers import PYTHON, install_params, parse_windows_command_line, windows_spec

PASSWORD = "Zebra-Pa55:w/rd@%Ünï"


def test_server_spec_holds_everything_about_the_service():
    spec = windows_spec(port=4300, bind_address="0.0.0.0", auth_credential={"userName": "admin", "password": PASSWORD})
    assert spec.application == PYTHON
    assert spec.arguments == ("-m", "prefect", "server", "start", "--host", "0.0.0.0", "--port", "4300")
    assert spec.working_directory == spec.prefect_home == "C:\\ProgramData\\Prefect"
    env = spec.environment
    assert env["PREFECT_HOME"] == spec.prefect_home
    assert (env["PREFECT_SERVER_API_HOST"], env["PREFECT_SERVER_API_PORT"]) == ("0.0.0.0", "4300")
    # A wildcard bind is reached on loopback: PREFECT_API_URL agrees with host and port.
    assert env["PREFECT_API_URL"] == spec.api_url == "http://127.0.0.1:4300/api"
    assert (env["PYTHONIOENCODING"], env["PYTHONUTF8"], env["PYTHONUNBUFFERED"]) == ("utf-8", "1", "1")
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["PREFECT_CLI_COLORS"] == env["PREFECT_LOGGING_COLORS"] == "false"
    assert spec.log_paths == ("C:\\ProgramData\\Prefect\\logs\\PrefectServer.stdout.log", "C:\\ProgramData\\Prefect\\logs\\PrefectServer.stderr.log")
    nssm = spec.nssm_parameters()
    assert nssm["AppExit"] == ("Default", "Restart")
    assert nssm["AppThrottle"] == (str(spec.throttle_ms),) and spec.throttle_ms > 0
    assert nssm["AppStopMethodSkip"] == (str(STOP_METHOD_SKIP),) == ("6",)  # Ctrl-C, then TerminateProcess
    assert nssm["AppStopMethodConsole"] == (str(SERVER_STOP_TIMEOUT_MS),)
    assert nssm["AppKillProcessTree"] == ("1",)
    assert nssm["AppNoConsole"] == ("0",)  # Prefect needs a console for CTRL_BREAK
    assert nssm["AppRotateFiles"] == nssm["AppRotateOnline"] == ("1",)
    assert nssm["Start"] == ("SERVICE_AUTO_START",)
    # Least privilege by default: the service's own virtual account, which has no password.
    assert spec.account == spec.account_principal == "NT SERVICE\\PrefectServer" and spec.account_password is None
    assert parse_marker(spec.marker())["role"] == "Server"


def test_default_home_is_programdata_never_the_installing_users_profile():
    spec = windows_spec()
    assert spec.prefect_home == "C:\\ProgramData\\Prefect"
    assert "Users" not in spec.prefect_home and "Users" not in spec.log_directory


def test_worker_spec_polls_its_pool_and_names_itself_stably():
    spec = windows_spec(name="Worker1", role="Worker", pool="etl", work_queue=["high", "low"], api_url="http://srv:4200/api")
    assert spec.arguments == (
        "-m", "prefect", "worker", "start", "--pool", "etl", "--type", "process", "--name", "Worker1@BOX1",
        "--work-queue", "high", "--work-queue", "low",
    )
    assert spec.environment["PREFECT_API_URL"] == "http://srv:4200/api"
    assert "PREFECT_SERVER_API_PORT" not in spec.environment
    assert spec.stop_timeout_ms == WORKER_STOP_TIMEOUT_MS > SERVER_STOP_TIMEOUT_MS
    assert spec.port is None and spec.firewall_rule is None


def test_worker_defaults_to_the_local_server_and_depends_on_it():
    spec = windows_spec(name="Worker1", role="Worker", pool="etl", local_server=("PrefectServer", "http://127.0.0.1:4300/api"))
    assert spec.api_url == "http://127.0.0.1:4300/api"
    assert spec.dependencies == ("PrefectServer",)
    assert spec.nssm_parameters()["DependOnService"] == ("PrefectServer",)
    alone = windows_spec(name="Worker1", role="Worker", pool="etl")
    assert alone.api_url == "http://127.0.0.1:4200/api" and alone.dependencies == ()


def test_database_credential_is_merged_into_the_url_and_stays_secret():
    spec = windows_spec(
        database_url=SecretStr("postgresql://db.example.com:5432/prefect"),
        database_credential={"user_name": "prefect user", "password": PASSWORD},
    )
    url = spec.secret_environment["PREFECT_SERVER_DATABASE_CONNECTION_URL"].get_secret_value()
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "postgresql+asyncpg"  # Prefect's server talks to PostgreSQL through asyncpg
    assert urllib.parse.unquote(parts.password) == PASSWORD and urllib.parse.unquote(parts.username) == "prefect user"
    assert (parts.hostname, parts.port, parts.path) == ("db.example.com", 5432, "/prefect")
    # Nowhere but inside the SecretStr: not in NSSM's environment, the dump, the marker; the
    # service reads it from its secrets file, which NSSM's environment points Prefect at.
    entries = spec.environment_entries()
    assert not any(isinstance(e, SecretStr) for e in entries)
    for text in (repr(spec), spec.model_dump_json(), spec.marker(), str(spec.environment), repr(entries), " ".join(reveal(entries))):
        assert PASSWORD not in text and urllib.parse.quote(PASSWORD, safe="") not in text
    assert f"PREFECT_PROFILES_PATH={spec.secrets_file}" in entries
    assert spec.settings_environment()["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == url
    assert spec.database_kind == "postgresql" and spec.sqlite_path is None


def test_sqlite_is_the_default_database_under_prefect_home():
    spec = windows_spec()
    assert spec.secret_environment == {}
    assert (spec.database_kind, spec.sqlite_path) == ("sqlite", "C:\\ProgramData\\Prefect\\prefect.db")


def test_user_account_needs_a_credential_and_builtin_accounts_take_none():
    spec = windows_spec(account="CONTOSO\\svc-prefect", credential={"password": PASSWORD})
    assert spec.account == spec.account_principal == "CONTOSO\\svc-prefect"
    assert spec.account_password.get_secret_value() == PASSWORD
    local = windows_spec(account="svc-prefect", credential={"password": PASSWORD})
    assert (local.account, local.account_principal) == (".\\svc-prefect", "svc-prefect")
    for builtin, principal in (("LocalService", "NT AUTHORITY\\LOCAL SERVICE"), ("NetworkService", "NT AUTHORITY\\NETWORK SERVICE")):
        assert windows_spec(account=builtin).account_principal == principal
    gmsa = windows_spec(account="CONTOSO\\prefect$")
    assert gmsa.account_password is None
    assert windows_spec(credential={"user_name": "CONTOSO\\alice", "password": PASSWORD}).account == "CONTOSO\\alice"


@pytest.mark.parametrize(
    "values, target",
    [
        (dict(role="Worker"), "Pool"),
        (dict(role="Worker", pool="p", port=4300), "Port"),
        (dict(role="Worker", pool="p", open_firewall=True), "OpenFirewall"),
        (dict(pool="p"), "Pool"),
        (dict(api_url="http://srv:4200/api"), "ApiUrl"),
        (dict(role="Worker", pool="p", api_url="ftp://srv/api"), "ApiUrl"),
        (dict(environment={"PREFECT_API_URL": "http://x/api"}), "Environment"),
        (dict(environment={"prefect_home": "C:\\x"}), "Environment"),
        (dict(environment={"A=B": "1"}), "Environment"),
        (dict(environment={"PREFECT_SERVER_DATABASE_PASSWORD": "x"}), "Environment"),
        (dict(account="LocalSystem", credential={"password": "x"}), "Credential"),
        (dict(account="CONTOSO\\bob"), "Credential"),
        (dict(account="CONTOSO\\bob", credential={"user_name": "CONTOSO\\alice", "password": "x"}), "Credential"),
        (dict(prefect_home="relative\\home"), "PrefectHome"),
        (dict(python_path="python.exe"), "PythonPath"),
        (dict(log_directory="logs"), "LogDirectory"),
        (dict(database_credential={"user_name": "u", "password": "x"}), "DatabaseCredential"),
        (dict(database_url=SecretStr("postgresql+asyncpg://u:pw@h/db"), database_credential={"password": "x"}), "DatabaseUrl"),
        (dict(database_url=SecretStr("sqlite+aiosqlite:///C:/x.db"), database_credential={"password": "x"}), "DatabaseCredential"),
        (dict(database_url=SecretStr("mysql://h/db")), "DatabaseUrl"),
        (dict(depends_on=["PrefectServer"]), "DependsOn"),
    ],
)
def test_invalid_parameter_combinations_name_the_parameter(values, target):
    with pytest.raises(InvalidArgument) as raised:
        windows_spec(**values)
    assert raised.value.target == target


def test_errors_never_echo_a_password():
    with pytest.raises(InvalidArgument) as raised:
        windows_spec(database_url=SecretStr(f"postgresql+asyncpg://u:{PASSWORD}@h/db"), database_credential={"password": "other"})
    assert PASSWORD not in str(raised.value.to_wire())


QUOTING_PATHS = [
    "C:\\Program Files\\Python 3.12\\python.exe",
    "C:\\Users\\José\\prefect",
    "D:\\数据\\prefect",
    'C:\\odd "quoted" dir\\x',
    # Shell metacharacters pass through untouched; '%PATH%' would not (NSSM expands it), so
    # tests/services/test_nssm_rules.py expects it refused.
    "C:\\a & b\\$(whoami)\\x",
    "C:\\trailing backslash\\",
    "\\\\fs01\\share with space\\prefect",
]


@pytest.mark.parametrize("path", QUOTING_PATHS)
def test_paths_pass_through_the_spec_and_parse_back_from_appparameters_unchanged(path):
    python = path if path.endswith(".exe") else path.rstrip("\\") + "\\python.exe"
    spec = windows_spec(python_path=python, prefect_home=path, log_directory=path, environment={"SPECIAL": path})
    assert spec.application == python
    assert spec.working_directory == spec.prefect_home == spec.environment["PREFECT_HOME"] == path
    assert spec.environment["SPECIAL"] == path
    nssm = spec.nssm_parameters()
    assert nssm["Application"] == (python,) and nssm["AppDirectory"] == (path,)
    assert f"PREFECT_HOME={path}" in nssm["AppEnvironmentExtra"] and f"SPECIAL={path}" in nssm["AppEnvironmentExtra"]
    assert all(p.startswith(path) for p in spec.log_paths)
    # Worker arguments carrying the path (as a pool name) survive AppParameters' quoting.
    worker = windows_spec(name="W", role="Worker", pool=path, work_queue=[path, ""], prefect_home=path)
    assert parse_windows_command_line(worker.nssm_parameters()["AppParameters"][0]) == list(worker.arguments)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12), max_size=6))
def test_appparameters_round_trips_any_argument_list(arguments):
    spec = windows_spec(name="W", role="Worker", pool="p").model_copy(update={"arguments": tuple(arguments)})
    assert parse_windows_command_line(spec.command_line) == arguments


def test_posix_flavor_for_the_linux_payload(tmp_path):
    spec = build_spec(install_params(prefect_home=str(tmp_path)), python="/usr/bin/python3", default_home="/var/lib/prefect", host="h", flavor="posix")
    assert spec.log_directory == str(tmp_path / "logs")
    with pytest.raises(InvalidArgument):
        build_spec(install_params(prefect_home="C:\\x"), python="/usr/bin/python3", default_home="/x", host="h", flavor="posix")


def test_a_refused_api_url_is_named_without_its_password():
    with pytest.raises(InvalidArgument) as raised:
        windows_spec(role="Worker", pool="p", api_url="ftp://bot:Api-Url-Pw-5@srv/api")
    assert raised.value.target == "ApiUrl" and "Api-Url-Pw-5" not in raised.value.message
