"""Secret variables that are not Prefect settings (issue 12, item 4): out of NSSM's registry
values and arguments, into the secrets file's `[prefectwin.environment]` table, set by the
launcher PrefectWin writes beside it.

Pure spec and plan tests, the launcher as a real process of this interpreter, and the recording
fake adapter for the file's access list and for rotation, rollback, removal and uninstall. A
real worker started from the spec through the POSIX stand-in is tests/services/test_secret_variables_real.py."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from fakes.services import NSSM_PATH, FakeServiceAdapter
from prefectwin.errors import ApplyFailed, InvalidArgument
from prefectwin.events import SilentEvents
from prefectwin.services.plan import plan_install
from prefectwin.services.secrets_file import access_problems, file_values
from prefectwin.services.spec import launcher_arguments, launcher_source
from prefectwin.services.state import launcher_of, read_state
from prefectwin.target import launcher
from service_helpers import apply_plan, windows_spec
from services.test_secrets_file import assert_no_secret, install

AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DB = "Quokka-\"db\" \\pw #=%41 ä 𝄞"
PROXY_PASSWORD = "Wombat-proxy-9"
PROXY = f"http://svc:{PROXY_PASSWORD}@proxy.example.com:8080"
NEW_DB = "Echidna-rotated-7"
ACCOUNT = "CONTOSO\\svc-prefect"


def spec(db: str = DB, **extra):
    values = dict(
        role="Worker",
        name="EtlWorker",
        pool="etl",
        api_url="http://prefect01:4200/api",
        account=ACCOUNT,
        credential={"user_name": ACCOUNT, "password": "Acct-pw-1"},
        environment={"AWS_SECRET_ACCESS_KEY": AWS, "HTTPS_PROXY": PROXY, "AWS_REGION": "eu-west-1"},
        secret_environment={"DB_NAME_AND_PASSWORD": db},
    )
    values.update(extra)
    return windows_spec(**values)


def let_users_change(adapter, path):
    """BUILTIN\\Users may read and change the file (the fake's access list, widened)."""
    from prefectwin.services.secrets_file import AccessEntry

    acl = adapter.file_acls[path]
    adapter.file_acls[path] = acl.model_copy(update={"entries": (*acl.entries, AccessEntry(principal="BUILTIN\\Users", sid="S-1-5-32-545", rights=0x1301BF))})


# -- the spec --------------------------------------------------------------------------------
def test_secret_variables_are_known_by_meaning_or_marked_and_only_plain_ones_reach_nssm():
    wanted = spec()
    assert set(wanted.secret_variables) == {"AWS_SECRET_ACCESS_KEY", "HTTPS_PROXY", "DB_NAME_AND_PASSWORD"}
    assert wanted.environment["AWS_REGION"] == "eu-west-1"  # plain, stays in NSSM
    shown = json.dumps({k: [str(v) for v in values] for k, values in wanted.nssm_parameters().items()}, ensure_ascii=False)
    assert_no_secret(shown, AWS, DB, PROXY_PASSWORD)
    assert "AWS_SECRET_ACCESS_KEY" not in shown and "HTTPS_PROXY" not in shown
    # NSSM starts the target python with the launcher, the secrets file, then Prefect's own arguments.
    home = "C:\\ProgramData\\Prefect"
    assert wanted.application.endswith("python.exe")
    assert wanted.arguments[:4] == (f"{home}\\EtlWorker.launcher.py", f"{home}\\EtlWorker.secrets.toml", "-m", "prefect")
    assert launcher_arguments(wanted.arguments) == (wanted.launcher_file, wanted.secrets_file, wanted.arguments[2:])
    assert wanted.nssm_environment()["PREFECT_PROFILES_PATH"] == wanted.secrets_file
    # The file: the variables in the launcher's table, read back exactly.
    text = wanted.secrets_text().get_secret_value()
    assert text.isascii() and "[prefectwin.environment]" in text
    assert launcher.read_variables(text) == {"AWS_SECRET_ACCESS_KEY": AWS, "HTTPS_PROXY": PROXY, "DB_NAME_AND_PASSWORD": DB}
    assert wanted.settings_environment()["DB_NAME_AND_PASSWORD"] == DB  # for asking the target, as the service will run


def test_a_service_without_secret_variables_starts_prefect_directly_and_has_no_launcher():
    plain = windows_spec(environment={"AWS_REGION": "eu-west-1", "PREFECT_API_KEY": "pnu_Platypus0123456789"})
    assert plain.launcher_file is None and plain.launcher_text() is None and plain.secret_variables == {}
    assert plain.arguments[:2] == ("-m", "prefect")
    assert "[prefectwin.environment]" not in plain.secrets_text().get_secret_value()  # the file stays as it was


def test_a_marked_prefect_setting_goes_to_the_profile_without_a_launcher():
    marked = windows_spec(secret_environment={"PREFECT_LOGGING_LEVEL": "DEBUG"})
    assert marked.launcher_file is None and "PREFECT_LOGGING_LEVEL" in marked.secret_environment
    assert "PREFECT_LOGGING_LEVEL" not in marked.nssm_environment()


@pytest.mark.parametrize(
    "values, target, words",
    [
        ({"environment": {"DB_PASSWORD": "a"}, "secret_environment": {"db_password": "b"}}, "SecretEnvironment", "both"),
        ({"secret_environment": {"DB_PASSWORD": ""}}, "SecretEnvironment", "empty value"),
        ({"secret_environment": {"PYTHONPATH": "C:\\x"}}, "SecretEnvironment", "as the interpreter starts"),
        ({"secret_environment": {"PREFECT_HOME": "C:\\x"}}, "SecretEnvironment", "-PrefectHome"),
        ({"secret_environment": {"A=B": "x"}}, "SecretEnvironment", "not valid"),
    ],
)
def test_bad_secret_environment_is_refused_by_parameter(values, target, words):
    with pytest.raises(InvalidArgument) as raised:
        windows_spec(**values)
    assert raised.value.target == target and words in raised.value.message


# -- the launcher ------------------------------------------------------------------------------
def test_the_launcher_sets_the_variables_then_runs_the_module_as_python_m_would(tmp_path):
    wanted = spec()
    secrets = tmp_path / "EtlWorker.secrets.toml"
    secrets.write_text(wanted.secrets_text().get_secret_value(), encoding="utf-8")
    script = tmp_path / "EtlWorker.launcher.py"
    script.write_text(launcher_source(), encoding="utf-8")
    (tmp_path / "probe_module").mkdir()
    (tmp_path / "probe_module" / "__init__.py").write_text("")
    (tmp_path / "probe_module" / "__main__.py").write_text(
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv[1:], 'main': __name__, 'path0': sys.path[0],\n"
        "                  'env': {k: os.environ.get(k) for k in ('AWS_SECRET_ACCESS_KEY', 'HTTPS_PROXY', 'DB_NAME_AND_PASSWORD', 'AWS_REGION')}}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HTTPS_PROXY", "DB_"))}
    env["AWS_REGION"] = "eu-west-1"  # what NSSM sets stays
    done = subprocess.run(
        [sys.executable, str(script), str(secrets), "-m", "probe_module", "worker", "start", "--pool", "etl"],
        cwd=tmp_path, env=env, capture_output=True, text=True, encoding="utf-8", timeout=60,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["argv"] == ["worker", "start", "--pool", "etl"] and seen["main"] == "__main__" and seen["path0"] == str(tmp_path)
    assert seen["env"] == {"AWS_SECRET_ACCESS_KEY": AWS, "HTTPS_PROXY": PROXY, "DB_NAME_AND_PASSWORD": DB, "AWS_REGION": "eu-west-1"}


def test_a_launcher_that_cannot_read_its_file_says_which_file_and_shows_nothing_of_it(tmp_path):
    script = tmp_path / "x.launcher.py"
    script.write_text(launcher_source(), encoding="utf-8")
    missing = tmp_path / "gone.secrets.toml"
    done = subprocess.run([sys.executable, str(script), str(missing), "-m", "json.tool"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and str(missing) in done.stderr and "FileNotFoundError" in done.stderr
    usage = subprocess.run([sys.executable, str(script), str(missing)], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "usage" in usage.stderr


# -- installing, against the recording fake ----------------------------------------------------
def test_install_writes_the_file_and_the_launcher_for_the_account_and_nssm_holds_no_secret():
    adapter = FakeServiceAdapter()
    wanted = spec()
    actions = install(adapter, wanted, start=True)
    assert_no_secret(json.dumps(adapter.nssm_argv, ensure_ascii=False), AWS, DB, PROXY_PASSWORD)
    service = adapter.services["etlworker"]
    assert_no_secret(json.dumps(service.parameters, ensure_ascii=False) + (service.marker or ""), AWS, DB, PROXY_PASSWORD)
    assert_no_secret(" ".join(a.description for a in actions), AWS, DB, PROXY_PASSWORD)
    kinds = [a.kind for a in actions]
    write, write_launcher = actions[kinds.index("write-secrets-file")], actions[kinds.index("write-launcher")]
    assert "AWS_SECRET_ACCESS_KEY" in write.description and "DB_NAME_AND_PASSWORD" in write_launcher.description
    start = actions[kinds.index("start-service")]
    assert write.id in start.depends_on and write_launcher.id in start.depends_on
    # Both files through the restricted writer, for the account; both ACLs checked sound.
    writes = {call.args[0]: call.args for call in adapter.calls_to("write_restricted_file")}
    assert set(writes) == {wanted.secrets_file, wanted.launcher_file}
    assert all(args[2] == ACCOUNT and isinstance(args[1], SecretStr) for args in writes.values())
    assert adapter.secret_files[wanted.launcher_file] == launcher_source()
    for path in (wanted.secrets_file, wanted.launcher_file):
        assert access_problems(adapter.file_access(path, ACCOUNT), ACCOUNT) == []
    assert file_values(adapter.secret_files[wanted.secrets_file])["AWS_SECRET_ACCESS_KEY"] == AWS
    names = adapter.changing_calls()
    assert names.index("nssm_install") < names.index("write_restricted_file") < names.index("start_service")
    assert install(adapter, wanted, start=True) == []  # the same again changes nothing
    # Reading it back: the interpreter is still the application; the launcher is known.
    assert launcher_of(adapter.read_service("EtlWorker")) == wanted.launcher_file


def test_a_launcher_others_could_change_is_rewritten_and_a_changed_one_replaced():
    adapter = FakeServiceAdapter()
    wanted = spec()
    install(adapter, wanted)
    path = wanted.launcher_file
    let_users_change(adapter, path)
    [action] = plan_install(wanted, read_state(wanted, adapter))
    assert action.kind == "write-launcher" and "BUILTIN\\Users can read it" in action.description
    apply_plan([action], adapter, nssm=NSSM_PATH, events=SilentEvents())
    adapter.secret_files[path] = "import os; os.system('evil')\n"
    [action] = plan_install(wanted, read_state(wanted, adapter))
    assert action.kind == "write-launcher" and "not PrefectWin's launcher" in action.description
    apply_plan([action], adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.secret_files[path] == launcher_source()


def test_rotating_a_secret_variable_is_a_masked_rewrite_and_a_failure_puts_the_old_file_back():
    adapter = FakeServiceAdapter()
    install(adapter, spec(), start=True)
    old_text = adapter.secret_files[spec().secrets_file]
    rotated = spec(NEW_DB)
    actions = plan_install(rotated, read_state(rotated, adapter))
    assert [a.kind for a in actions] == ["write-secrets-file", "restart-service"]
    assert "new value of DB_NAME_AND_PASSWORD" in actions[0].description
    assert_no_secret(json.dumps([a.model_dump(mode="json", by_alias=True) for a in actions]), DB, NEW_DB, AWS)
    adapter.fail_at_change = adapter.changes + 2  # the write succeeds, the restart's stop fails
    with pytest.raises(ApplyFailed) as raised:
        apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert_no_secret(str(raised.value), DB, NEW_DB)
    assert adapter.secret_files[rotated.secrets_file] == old_text
    adapter.fail_at_change = None
    apply_plan(plan_install(rotated, read_state(rotated, adapter)), adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert launcher.read_variables(adapter.secret_files[rotated.secrets_file])["DB_NAME_AND_PASSWORD"] == NEW_DB


def test_dropping_the_secret_variables_goes_back_to_python_m_prefect_and_deletes_the_launcher_after():
    adapter = FakeServiceAdapter()
    install(adapter, spec(), start=True)
    path = spec().launcher_file
    plain = spec(environment={"AWS_REGION": "eu-west-1"}, secret_environment=None)
    actions = plan_install(plain, read_state(plain, adapter))
    remove = next(a for a in actions if a.kind == "remove-launcher")
    parameters = next(a for a in actions if a.parameter == "AppParameters")
    assert remove.target == path and parameters.id in remove.depends_on
    assert "launcher" not in parameters.description.split("to ")[1].split(" (was")[0]
    apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert path not in adapter.secret_files and spec().secrets_file not in adapter.secret_files
    assert adapter.services["etlworker"].parameters["AppParameters"][0].startswith("-m prefect worker start")


def test_uninstall_deletes_the_launcher_and_the_secrets_file_and_shows_no_secret():
    import prefectwin.system as system
    from prefectwin.events import Events
    from prefectwin.rpc import handle

    adapter = FakeServiceAdapter()
    wanted = spec()
    install(adapter, wanted)
    previous = system._override
    system.use_adapter(adapter)
    try:
        stream = io.StringIO()
        request = {"protocol": 1, "command": "service.uninstall", "params": {"name": "EtlWorker"}, "whatIf": False}
        done, _ = handle(json.dumps(request).encode(), Events(stream))
    finally:
        system.use_adapter(previous)
    assert done["ok"], done
    assert {a["kind"] for a in done["result"]["actions"]} >= {"remove-launcher", "remove-secrets-file", "remove-service"}
    assert adapter.secret_files == {}
    assert_no_secret(stream.getvalue() + json.dumps(done), AWS, DB, PROXY_PASSWORD)


def test_the_service_log_and_messages_about_it_are_scrubbed_of_its_secret_variables():
    from prefectwin.services.health import secret_values

    adapter = FakeServiceAdapter()
    install(adapter, spec())
    found = secret_values(adapter.read_service("EtlWorker"), adapter)
    assert {AWS, DB, PROXY} <= set(found) and PROXY_PASSWORD in found


def test_the_diagnosis_reads_the_launcher_form_and_fails_a_launcher_others_may_change():
    from prefectwin.diagnosis.checks import select
    from prefectwin.diagnosis.facts import Facts
    from prefectwin.diagnosis.service import read_target
    adapter = FakeServiceAdapter()
    wanted = spec()
    install(adapter, wanted)
    target = read_target("EtlWorker", adapter, principal_of=lambda account: account)
    assert target.role == "Worker" and target.python == wanted.application  # the interpreter, not the launcher
    facts = target.facts
    assert facts.launcher_file == wanted.launcher_file and facts.secrets_file == wanted.secrets_file
    assert {"AWS_SECRET_ACCESS_KEY", "DB_NAME_AND_PASSWORD"} <= set(facts.secrets_file_names)
    assert_no_secret(facts.model_dump_json(), AWS, DB, PROXY_PASSWORD)
    check = select(["service.secrets-file"])[0]
    assert check.run(Facts.model_construct(service=facts)).status == "Pass"
    let_users_change(adapter, wanted.launcher_file)
    widened = read_target("EtlWorker", adapter, principal_of=lambda account: account).facts
    result = check.run(Facts.model_construct(service=widened))
    assert result.status == "Fail" and f"launcher {wanted.launcher_file}: BUILTIN\\Users can read it" in result.message
