"""A service's secrets out of NSSM's registry values and command lines, into its secrets file,
against the recording fake adapter: what NSSM is given, the file and its access list, a secret
changed (planned, applied, rolled back byte for byte), a widened access list repaired, an old
service migrated, uninstall, and the Windows and POSIX implementations of the restricted file.

The real part (Prefect reading the file, a real server on it) is tests/test_secrets_file_releases.py."""
from __future__ import annotations

import io
import json
import os
import stat
import urllib.parse
from types import SimpleNamespace

import pytest
from pydantic import SecretStr

from fakes.services import NSSM_PATH, FakeService, FakeServiceAdapter, InjectedFailure
from prefectwin.errors import ApplyFailed
from prefectwin.events import SilentEvents
from prefectwin.services.plan import plan_install
from prefectwin.services.secrets_file import ADMINISTRATORS_SID, SYSTEM_SID, AccessEntry, FileAccess, access_problems, file_values
from prefectwin.services.spec import DATABASE_URL_KEY
from prefectwin.services.state import read_state
from service_helpers import apply_plan, windows_spec

PASSWORD = "Numbat-S3cr3t\"\\ #=%41ä𝄞"
NEW_PASSWORD = "Bilby-R0tated'$@/x"
API_KEY = "pnu_Platypus0123456789"
ACCOUNT = "CONTOSO\\svc-prefect"


def spec(password: str = PASSWORD, **extra):
    values = dict(
        database_url=SecretStr("postgresql://db.example.com:5432/prefect"),
        database_credential={"user_name": "prefect", "password": password},
        account=ACCOUNT,
        credential={"user_name": ACCOUNT, "password": "Acct-pw-1"},
        environment={"PREFECT_API_KEY": API_KEY, "PREFECT_LOGGING_LEVEL": "INFO"},
    )
    values.update(extra)
    return windows_spec(**values)


def install(adapter, wanted, *, start=False):
    actions = plan_install(wanted, read_state(wanted, adapter), start=start)
    if actions:
        apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    return actions


def secret_forms(*secrets: str) -> list[str]:
    forms = []
    for secret in secrets:
        forms += [secret, urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1]]
    return forms


def assert_no_secret(text: str, *secrets: str) -> None:
    for form in secret_forms(*secrets):
        assert form not in text, f"a secret ({form[:4]}...) leaked"


# -- what NSSM gets, what the file holds -------------------------------------------------------
def test_nssm_holds_no_secret_and_the_file_holds_them_all_for_the_account_only():
    adapter = FakeServiceAdapter()
    wanted = spec()
    actions = install(adapter, wanted, start=True)
    # Every nssm argument list and every registry value, as the Windows adapter would run and write them.
    assert adapter.nssm_argv and any(argv[1] == "set" for argv in adapter.nssm_argv)
    assert_no_secret(json.dumps(adapter.nssm_argv, ensure_ascii=False), PASSWORD, API_KEY)
    service = adapter.services["prefectserver"]
    assert_no_secret(json.dumps(service.parameters, ensure_ascii=False) + (service.marker or ""), PASSWORD, API_KEY)
    env = dict(e.partition("=")[::2] for e in service.parameters["AppEnvironmentExtra"])
    assert DATABASE_URL_KEY not in env and "PREFECT_API_KEY" not in env
    assert env["PREFECT_PROFILES_PATH"] == wanted.secrets_file == "C:\\ProgramData\\Prefect\\PrefectServer.secrets.toml"
    assert env["PREFECT_LOGGING_LEVEL"] == "INFO"  # a plain -Environment variable stays in NSSM
    # Nor in any plan description.
    assert_no_secret(" ".join(a.description for a in actions), PASSWORD, API_KEY)
    # The file: written once, through the adapter, with the secrets as SecretStr.
    [write] = adapter.calls_to("write_restricted_file")
    path, content, reader = write.args
    assert (path, reader) == (wanted.secrets_file, ACCOUNT) and isinstance(content, SecretStr)
    stored = file_values(adapter.secret_files[path])
    assert stored["PREFECT_API_KEY"] == API_KEY
    assert urllib.parse.unquote(urllib.parse.urlsplit(stored[DATABASE_URL_KEY]).password) == PASSWORD
    assert adapter.secret_files[path].isascii()  # every non-ASCII character is a TOML escape
    # Read only by the account; SYSTEM and Administrators full control; nothing inherited.
    access = adapter.file_acls[path]
    assert access.inherits is False and access.owner_sid == ADMINISTRATORS_SID
    assert {(e.sid, e.rights) for e in access.entries} == {(SYSTEM_SID, 0x1F01FF), (ADMINISTRATORS_SID, 0x1F01FF), (f"S-{ACCOUNT.lower()}", 0x120089)}
    assert access_problems(adapter.file_access(path, ACCOUNT), ACCOUNT) == []
    # Written once the service (and so its account, which the ACL names) exists, before it starts.
    names = adapter.changing_calls()
    assert names.index("nssm_install") < names.index("write_restricted_file") < names.index("start_service")
    assert install(adapter, wanted, start=True) == []  # and the same spec again changes nothing


def test_a_service_without_secrets_has_no_file_and_no_profiles_path():
    adapter = FakeServiceAdapter()
    plain = windows_spec(name="PrefectServer")
    assert plain.secrets_file is None and plain.secrets_text() is None
    install(adapter, plain)
    assert adapter.calls_to("write_restricted_file") == []
    assert not any(e.startswith("PREFECT_PROFILES_PATH=") for e in adapter.services["prefectserver"].parameters["AppEnvironmentExtra"])


def test_profiles_path_and_profile_are_not_for_environment():
    from prefectwin.errors import InvalidArgument

    for name in ("PREFECT_PROFILES_PATH", "PREFECT_PROFILE"):
        with pytest.raises(InvalidArgument) as raised:
            windows_spec(environment={name: "x"})
        assert raised.value.target == "Environment" and "secrets file" in raised.value.message


# -- changing a secret -------------------------------------------------------------------------
def test_rotating_a_secret_is_a_planned_rewrite_that_names_the_setting_never_the_value():
    adapter = FakeServiceAdapter()
    install(adapter, spec(), start=True)
    rotated = spec(NEW_PASSWORD)
    actions = plan_install(rotated, read_state(rotated, adapter))
    assert [a.kind for a in actions] == ["write-secrets-file", "restart-service"]
    write, restart = actions
    assert f"new value of {DATABASE_URL_KEY}" in write.description and "PREFECT_API_KEY" not in write.description
    assert restart.depends_on == [write.id]  # no restart without the new file
    assert_no_secret(json.dumps([a.model_dump(mode="json", by_alias=True) for a in actions]), PASSWORD, NEW_PASSWORD, API_KEY)
    apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    stored = file_values(adapter.secret_files[rotated.secrets_file])
    assert urllib.parse.unquote(urllib.parse.urlsplit(stored[DATABASE_URL_KEY]).password) == NEW_PASSWORD
    assert adapter.services["prefectserver"].status == "Running"
    assert plan_install(rotated, read_state(rotated, adapter)) == []


def test_a_failed_rotation_puts_the_old_file_back_byte_for_byte():
    adapter = FakeServiceAdapter()
    install(adapter, spec(), start=True)
    before = adapter.snapshot()
    old_text = adapter.secret_files[spec().secrets_file]
    rotated = spec(NEW_PASSWORD)
    actions = plan_install(rotated, read_state(rotated, adapter))
    adapter.fail_at_change = adapter.changes + 2  # the write succeeds, the restart's stop fails
    with pytest.raises(ApplyFailed) as raised:
        apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert_no_secret(str(raised.value) + json.dumps(getattr(raised.value, "details", None), default=str), PASSWORD, NEW_PASSWORD)
    assert adapter.secret_files[rotated.secrets_file] == old_text
    after = adapter.snapshot()
    for key in ("secret_files", "file_acls"):
        assert after[key] == before[key]
    # The undo is a second write of the old text through the adapter, with the same account.
    writes = adapter.calls_to("write_restricted_file")
    assert writes[-1].args[1].get_secret_value() == old_text and writes[-1].args[2] == ACCOUNT


def test_a_failed_first_install_removes_the_file_it_wrote():
    adapter = FakeServiceAdapter()
    wanted = spec()
    actions = plan_install(wanted, read_state(wanted, adapter))
    adapter.fail_on["nssm_install"] = InjectedFailure("no nssm today")
    with pytest.raises(ApplyFailed):
        apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.secret_files == {} and adapter.services == {}


def test_an_access_list_others_can_read_is_rewritten():
    adapter = FakeServiceAdapter()
    wanted = spec()
    install(adapter, wanted)
    path = wanted.secrets_file
    widened = adapter.file_acls[path]
    adapter.file_acls[path] = widened.model_copy(
        update={"inherits": True, "entries": (*widened.entries, AccessEntry(principal="BUILTIN\\Users", sid="S-1-5-32-545", rights=0x1200A9))}
    )
    [action] = plan_install(wanted, read_state(wanted, adapter))
    assert action.kind == "write-secrets-file"
    assert "BUILTIN\\Users can read it" in action.description and "inherits" in action.description
    apply_plan([action], adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert access_problems(adapter.file_access(path, ACCOUNT), ACCOUNT) == []


# -- services installed before the secrets file ------------------------------------------------
def test_reinstalling_an_old_service_moves_its_secrets_out_of_the_registry():
    wanted = spec()
    old_env = tuple(sorted(
        [e for e in wanted.environment_entries() if not e.startswith("PREFECT_PROFILES_PATH=")]
        + [f"{k}={v.get_secret_value()}" for k, v in wanted.secret_environment.items()]
    ))
    params = {p: tuple(v.get_secret_value() if isinstance(v, SecretStr) else v for v in values) for p, values in wanted.nssm_parameters().items() if values}
    params.update({"AppEnvironmentExtra": old_env, "ObjectName": (ACCOUNT,), "FailureActions": wanted.failure_values()})
    adapter = FakeServiceAdapter(
        services=[FakeService(name="PrefectServer", parameters=params, marker=wanted.marker(), status="Running")],
        directories=[wanted.prefect_home, wanted.log_directory],
        access=[(wanted.prefect_home, ACCOUNT), (wanted.log_directory, ACCOUNT)],
    )
    actions = plan_install(wanted, read_state(wanted, adapter))
    kinds = [(a.kind, a.parameter) for a in actions]
    assert ("write-secrets-file", None) in kinds and ("set-parameter", "AppEnvironmentExtra") in kinds and kinds[-1] == ("restart-service", None)
    env = next(a for a in actions if a.parameter == "AppEnvironmentExtra")
    # The plan shows the secret values leaving the registry, by name.
    assert f"remove {DATABASE_URL_KEY}, PREFECT_API_KEY" in env.description or f"remove PREFECT_API_KEY, {DATABASE_URL_KEY}" in env.description
    assert_no_secret(" ".join(a.description for a in actions), PASSWORD, API_KEY)
    apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert_no_secret(json.dumps(adapter.services["prefectserver"].parameters, ensure_ascii=False), PASSWORD, API_KEY)
    assert file_values(adapter.secret_files[wanted.secrets_file])["PREFECT_API_KEY"] == API_KEY


def test_a_file_the_service_no_longer_reads_is_deleted_after_the_registry_stops_pointing_at_it():
    adapter = FakeServiceAdapter()
    install(adapter, spec())
    path = spec().secrets_file
    plain = windows_spec(account=ACCOUNT, credential={"user_name": ACCOUNT, "password": "Acct-pw-1"})
    actions = plan_install(plain, read_state(plain, adapter))
    remove = next(a for a in actions if a.kind == "remove-secrets-file")
    env = next(a for a in actions if a.parameter == "AppEnvironmentExtra")
    assert remove.target == path and env.id in remove.depends_on
    apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert path not in adapter.secret_files


def test_uninstall_deletes_the_secrets_file(monkeypatch):
    import prefectwin.system as system
    from prefectwin.events import Events
    from prefectwin.rpc import handle

    adapter = FakeServiceAdapter()
    install(adapter, spec())
    path = spec().secrets_file
    previous = system._override
    system.use_adapter(adapter)
    try:
        stream = io.StringIO()
        request = {"protocol": 1, "command": "service.uninstall", "params": {"name": "PrefectServer"}, "whatIf": True}
        plan, _ = handle(json.dumps(request).encode(), Events(stream))
        kinds = [a["kind"] for a in plan["result"]["actions"]]
        delete = [a for a in plan["result"]["actions"] if a["target"] == path]
        assert [a["kind"] for a in delete] == ["remove-secrets-file"] and "secrets file" in delete[0]["description"]
        # Before the service goes, so that a failure after it can still put the file back.
        assert kinds.index("remove-secrets-file") < kinds.index("remove-service")
        # A removal that fails: the file comes back byte for byte, for the service still there.
        text = adapter.secret_files[path]
        adapter.fail_on["remove_service"] = OSError("the SCM refused")
        failed, _ = handle(json.dumps({**request, "whatIf": False}).encode(), Events(stream))
        assert not failed["ok"] and adapter.secret_files[path] == text and "prefectserver" in adapter.services
        del adapter.fail_on["remove_service"]
        done, _ = handle(json.dumps({**request, "whatIf": False}).encode(), Events(stream))
    finally:
        system.use_adapter(previous)
    assert done["ok"], done
    assert path not in adapter.secret_files and adapter.services == {}
    assert_no_secret(stream.getvalue() + json.dumps(done) + json.dumps(failed), PASSWORD, API_KEY)


# -- the diagnosis reads the file and its access list --------------------------------------------
def test_the_diagnosis_reads_the_secrets_file_and_judges_its_access_list(tmp_path):
    from prefectwin.diagnosis.checks import run_checks, select
    from prefectwin.diagnosis.service import read_target

    adapter = FakeServiceAdapter()
    wanted = spec()
    install(adapter, wanted)
    target = read_target("PrefectServer", adapter, principal_of=lambda account: account)
    facts = target.facts
    assert facts.secrets_file == wanted.secrets_file and facts.secrets_file_exists
    assert set(facts.secrets_file_names) == {DATABASE_URL_KEY, "PREFECT_API_KEY"}
    assert facts.database_url_source == "secrets file"
    assert_no_secret(facts.model_dump_json(), PASSWORD, API_KEY)
    check = select(["service.secrets-file"])[0]
    from prefectwin.diagnosis.facts import Facts

    def judged(service_facts):
        base = Facts.model_construct(service=service_facts)
        return check.run(base)

    assert judged(facts).status == "Pass"
    path = wanted.secrets_file
    acl = adapter.file_acls[path]
    adapter.file_acls[path] = acl.model_copy(update={"entries": (*acl.entries, AccessEntry(principal="Everyone", sid="S-1-1-0", rights=0x80000000))})
    widened = read_target("PrefectServer", adapter, principal_of=lambda account: account).facts
    result = judged(widened)
    assert result.status == "Fail" and "Everyone can read it" in result.message


# -- the Windows implementation, on a fake .NET surface -----------------------------------------
class FakeFileDotNet:
    """System.Security.AccessControl as windows_files.py uses it: a FileSecurity records what is
    set on it; FileInfo(path).SetAccessControl stores it per path, and records whether the file
    was still empty then (the ACL must be on before any byte of the secret)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.acl: dict[str, SimpleNamespace] = {}
        self.unknown_accounts: set[str] = set()
        self.fail_set = False
        net = self
        self.FileSystemRights = SimpleNamespace(FullControl=0x1F01FF, Read=0x20089)
        self.AccessControlType = SimpleNamespace(Allow="Allow")
        self.SecurityIdentifierType = "SecurityIdentifier"
        self.NTAccountType = "NTAccount"

        class Sid(SimpleNamespace):
            def Translate(self, kind):  # noqa: N802
                return SimpleNamespace(Value={SYSTEM_SID: "NT AUTHORITY\\SYSTEM", ADMINISTRATORS_SID: "BUILTIN\\Administrators"}.get(self.Value, self.Value))

        self.SecurityIdentifier = lambda value: Sid(Value=value)

        def account(name):
            def translate(kind):
                if name in net.unknown_accounts:
                    raise RuntimeError("IdentityNotMappedException")
                return Sid(Value=f"S-{name.lower()}") if kind == "SecurityIdentifier" else SimpleNamespace(Value=name)

            return SimpleNamespace(Value=name, Translate=translate)

        self.NTAccount = account

        def rule(identity, rights, kind):
            net.calls.append(("FileSystemAccessRule", identity.Value, rights, kind))
            if not hasattr(identity, "Translate") or identity.Value.startswith("S-1-"):
                sid = identity
            else:
                sid = identity.Translate("SecurityIdentifier")
            return SimpleNamespace(IdentityReference=sid, FileSystemRights=rights, AccessControlType=kind)

        self.FileSystemAccessRule = rule

        class Security:
            def __init__(self):
                self.protected = None
                self.owner = None
                self.rules = []

            def SetAccessRuleProtection(self, protect, keep):  # noqa: N802
                self.protected = (protect, keep)

            def SetOwner(self, sid):  # noqa: N802
                self.owner = sid

            def AddAccessRule(self, rule):  # noqa: N802
                self.rules.append(rule)

            # reading
            @property
            def AreAccessRulesProtected(self):  # noqa: N802
                return bool(self.protected and self.protected[0])

            def GetOwner(self, kind):  # noqa: N802
                return self.owner

            def GetAccessRules(self, explicit, inherited, kind):  # noqa: N802
                return list(self.rules)

        self.FileSecurity = Security

        def file_info(path):
            def set_access(security):
                net.calls.append(("SetAccessControl", path, os.path.getsize(path)))
                if net.fail_set:
                    raise RuntimeError("UnauthorizedAccessException")
                net.acl[path] = security

            return SimpleNamespace(SetAccessControl=set_access, GetAccessControl=lambda: net.acl[path])

        self.FileInfo = file_info


def _windows_adapter(net):
    from prefectwin.system.windows import WindowsAdapter

    return WindowsAdapter(net=net)


def test_windows_writes_the_restricted_descriptor_before_the_data_then_renames(tmp_path):
    net = FakeFileDotNet()
    adapter = _windows_adapter(net)
    path = str(tmp_path / "PrefectServer.secrets.toml")
    adapter.write_restricted_file(path, SecretStr("old"), "NT SERVICE\\PrefectServer")
    adapter.write_restricted_file(path, SecretStr("active = \"prefectwin\"\n"), "NT SERVICE\\PrefectServer")
    assert adapter.read_restricted_file(path).get_secret_value() == "active = \"prefectwin\"\n"
    sets = [c for c in net.calls if c[0] == "SetAccessControl"]
    # On a temporary file beside the target, while it was still empty.
    assert all(os.path.dirname(c[1]) == str(tmp_path) and c[1] != path and c[2] == 0 for c in sets)
    assert os.listdir(tmp_path) == ["PrefectServer.secrets.toml"]  # no temporary file left
    security = net.acl[sets[-1][1]]
    assert security.protected == (True, False) and security.owner.Value == ADMINISTRATORS_SID
    assert [(r.IdentityReference.Value, r.FileSystemRights) for r in security.rules] == [
        (SYSTEM_SID, 0x1F01FF), (ADMINISTRATORS_SID, 0x1F01FF), ("S-nt service\\prefectserver", 0x20089)
    ]
    # file_access reads that descriptor back; the judgement finds nothing wrong with it.
    net.acl[path] = security  # the rename keeps the file's own descriptor
    access = adapter.file_access(path, "NT SERVICE\\PrefectServer")
    assert access.inherits is False and access.reader_sid == "S-nt service\\prefectserver"
    assert access.owner == "BUILTIN\\Administrators"
    assert access_problems(access, "NT SERVICE\\PrefectServer") == []
    assert adapter.file_access(str(tmp_path / "absent"), "x") is None and adapter.read_restricted_file(str(tmp_path / "absent")) is None


def test_windows_leaves_the_old_file_untouched_when_the_descriptor_cannot_be_set(tmp_path):
    net = FakeFileDotNet()
    adapter = _windows_adapter(net)
    path = str(tmp_path / "PrefectServer.secrets.toml")
    adapter.write_restricted_file(path, SecretStr("old text"), "NT SERVICE\\PrefectServer")
    net.fail_set = True
    with pytest.raises(RuntimeError):
        adapter.write_restricted_file(path, SecretStr("new text"), "NT SERVICE\\PrefectServer")
    assert open(path).read() == "old text" and os.listdir(tmp_path) == ["PrefectServer.secrets.toml"]


def test_windows_reports_an_account_this_machine_does_not_know():
    net = FakeFileDotNet()
    net.unknown_accounts.add("CONTOSO\\gone")
    access = FileAccess(entries=(AccessEntry(principal="SYSTEM", sid=SYSTEM_SID, rights=0x1F01FF),), reader_sid=None, owner_sid=ADMINISTRATORS_SID)
    assert access_problems(access, "CONTOSO\\gone") == ["CONTOSO\\gone, the service's account, cannot read it"]


# -- POSIX: mode 0400, for real -------------------------------------------------------------------
def test_posix_writes_mode_0400_atomically_and_reports_a_widened_mode(tmp_path):
    from prefectwin.system.posix import PosixAdapter

    adapter = PosixAdapter()
    path = str(tmp_path / "PrefectServer.secrets.toml")
    adapter.write_restricted_file(path, SecretStr("first"), "prefect")
    adapter.write_restricted_file(path, SecretStr("second ä"), "prefect")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o400
    assert adapter.read_restricted_file(path).get_secret_value() == "second ä"
    assert os.listdir(tmp_path) == ["PrefectServer.secrets.toml"]
    access = adapter.file_access(path, "no-such-posix-user")
    assert access_problems(access, "the service's user") == []
    # The account may read its file, not change it: on Windows its entry is read only, here the mode.
    os.chmod(path, 0o600)
    assert access_problems(adapter.file_access(path, "no-such-posix-user"), "the service's user") == ["the service's user can change it"]
    os.chmod(path, 0o644)
    problems = access_problems(adapter.file_access(path, "no-such-posix-user"), "the service's user")
    assert any("everyone can read it" in p for p in problems)


def _rewrite_restore_delete(folder: str) -> tuple:
    from prefectwin.change.model import Action
    from prefectwin.services.steps import Runtime, inverse, perform
    from prefectwin.system.posix import PosixAdapter

    adapter, path = PosixAdapter(), os.path.join(folder, "PrefectWorker.secrets.toml")
    run = Runtime(adapter, None)
    first = Action(id="a1", kind="write-secrets-file", description="w", target=path, data={"path": path, "content": SecretStr("old"), "reader": "u", "previous": None})
    perform(first, run)
    again = Action(id="a2", kind="write-secrets-file", description="w", target=path, data={"path": path, "content": SecretStr("new"), "reader": "u", "previous": SecretStr("old")})
    perform(again, run)
    after_rewrite = (adapter.read_restricted_file(path).get_secret_value(), stat.S_IMODE(os.stat(path).st_mode), os.access(path, os.W_OK))
    perform(inverse(again), run)
    after_undo = (adapter.read_restricted_file(path).get_secret_value(), stat.S_IMODE(os.stat(path).st_mode))
    perform(inverse(first), run)
    return after_rewrite, after_undo, os.path.exists(path)


def test_a_0400_file_is_rewritten_restored_and_deleted_by_its_owner_who_may_not_write_it(tmp_path):
    """What a rotation and its rollback do to a secrets file, as a user that is not root (root
    ignores modes; a forked child gives up root first): each write renames a new file over the
    read-only one, which needs the folder's write bit only."""
    import pickle
    import shutil
    import tempfile

    nobody = None
    if os.geteuid() == 0:
        import pwd

        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("no unprivileged user to write the file as")
    # Not under tmp_path: pytest's own folders are root's alone.
    folder = tempfile.mkdtemp(prefix="prefectwin-0400-")
    if nobody is not None:
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    # Once here, so that every module it needs is imported before the child may no longer read the venv.
    (tmp_path / "as-root").mkdir()
    _rewrite_restore_delete(str(tmp_path / "as-root"))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            if nobody is not None:
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            answer = ("ok", _rewrite_restore_delete(folder))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            answer = ("error", repr(exc))
        os.write(write_end, pickle.dumps(answer))
        os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            answer = pickle.loads(pipe.read())
        os.waitpid(pid, 0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert answer == ("ok", (("new", 0o400, False), ("old", 0o400), False)), answer


def test_a_session_that_may_not_read_the_file_plans_a_rewrite_it_cannot_undo():
    from prefectwin.change.engine import NotReversible
    from prefectwin.errors import PermissionDenied
    from prefectwin.services.steps import inverse

    adapter = FakeServiceAdapter()
    wanted = spec()
    install(adapter, wanted)
    adapter.fail_on["read_restricted_file"] = PermissionDenied("denied")
    [action] = plan_install(wanted, read_state(wanted, adapter))
    assert action.kind == "write-secrets-file" and "cannot read it to compare" in action.description
    with pytest.raises(NotReversible):
        inverse(action)


def test_a_crash_loop_tail_is_scrubbed_of_what_the_secrets_file_holds(tmp_path):
    import time

    import prefectwin.system as system
    from prefectwin.events import Events
    from prefectwin.rpc import handle

    stderr = tmp_path / "PrefectServer.stderr.log"
    stderr.write_text("Traceback (most recent call last):\nhttpx.HTTPStatusError: 401 for auth admin:Tail-From-File-3\n", encoding="utf-8")
    marker = json.dumps({"managedBy": "PrefectWin", "role": "Server", "apiUrl": "http://127.0.0.1:9/api", "logPaths": [str(tmp_path / "o.log"), str(stderr)]})
    path = "C:\\ProgramData\\Prefect\\PrefectServer.secrets.toml"
    parameters = {"Application": ("C:\\py\\python.exe",), "AppEnvironmentExtra": (f"PREFECT_PROFILES_PATH={path}",)}
    fake = FakeServiceAdapter(services=[FakeService(name="PrefectServer", parameters=parameters, marker=marker, status="Running", pid=10, app_pids=(11,))])
    fake.secret_files[path] = 'active = "prefectwin"\n[profiles.prefectwin]\nPREFECT_SERVER_API_AUTH_STRING = "admin:Tail-From-File-3"\n'
    now = time.time()
    exit_event = lambda when, record: {"time": when, "level": "Error", "eventId": 1, "recordId": record, "message": "Program C:\\py\\python.exe for service PrefectServer exited with return code 1.", "strings": ["C:\\py\\python.exe", "PrefectServer", "1"]}  # noqa: E731
    start_event = lambda when: {"time": when, "level": "Information", "eventId": 2, "recordId": 0, "message": "Started C:\\py\\python.exe -m prefect server start for service PrefectServer in C:\\ProgramData\\Prefect.", "strings": ["C:\\py\\python.exe", "-m prefect server start", "PrefectServer", "C:\\ProgramData\\Prefect"]}  # noqa: E731
    fake.events = [start_event(now - 200), exit_event(now - 150, 1), start_event(now - 140), exit_event(now - 90, 2), start_event(now - 80), exit_event(now - 30, 3), start_event(now - 20)]
    previous = system._override
    system.use_adapter(fake)
    try:
        response, _ = handle(json.dumps({"protocol": 1, "command": "service.get", "params": {}}).encode(), Events(io.StringIO()))
    finally:
        system.use_adapter(previous)
    detail = response["result"][0]["healthDetail"]
    assert detail.startswith("crash loop") and "401 for auth" in detail
    assert "Tail-From-File-3" not in json.dumps(response)


def test_a_session_that_may_not_read_a_stale_file_plans_its_removal_without_an_undo():
    from prefectwin.change.engine import NotReversible
    from prefectwin.errors import PermissionDenied
    from prefectwin.services.steps import inverse

    adapter = FakeServiceAdapter()
    install(adapter, spec())
    path = spec().secrets_file
    plain = windows_spec(account=ACCOUNT, credential={"user_name": ACCOUNT, "password": "Acct-pw-1"})
    adapter.fail_on["read_restricted_file"] = PermissionDenied("denied")
    remove = next(a for a in plan_install(plain, read_state(plain, adapter)) if a.kind == "remove-secrets-file")
    assert remove.target == path and "cannot read it" in remove.description
    with pytest.raises(NotReversible):
        inverse(remove)
