"""Least privilege by default (issue 12, items 5 and 6): the service's own virtual account, the
ACL grants it needs and only those (recorded, so Uninstall and rollback take back exactly what
Install gave), and a firewall rule scoped to the addresses that need the server.

The pure decisions (services/firewall.py, services/grants.py, the spec and the planners) are
tested directly; what reaches Windows is tested on the recording fakes (the stateful service
fake, and the Windows adapter on a fake .NET surface with a recording process runner)."""
from __future__ import annotations

import pytest

from fakes.dotnet import FakeDotNet
from fakes.facts import make_facts, windows_facts
from fakes.service_dotnet import READ_EXECUTE, FakeServiceDotNet
from fakes.services import NSSM_PATH, FakeService, FakeServiceAdapter, InjectedFailure
from prefectwin.diagnosis.checks import CHECK_NAMES
from prefectwin.diagnosis.checks.base import REGISTRY
from prefectwin.diagnosis.facts import FirewallRule
from prefectwin.errors import ApplyFailed, InvalidArgument
from prefectwin.events import SilentEvents
from prefectwin.services import firewall, grants
from prefectwin.services.grants import Grant
from prefectwin.services.plan import plan_install, plan_uninstall
from prefectwin.services.spec import firewall_rule_name, normalize_account, parse_marker
from prefectwin.services.state import read_state
from prefectwin.services.steps import inverse, perform, Runtime
from prefectwin.change.model import Action
from prefectwin.system.windows import WindowsAdapter
from prefectwin.system.windows_facts import FIREWALL_NAMESPACE
from service_helpers import PYTHON, apply_plan, windows_spec

RULE = firewall_rule_name("PrefectServer")
VIRTUAL = "NT SERVICE\\PrefectServer"
HOME = "C:\\ProgramData\\Prefect"
LOGS = "C:\\ProgramData\\Prefect\\logs"
PYTHON_DIR = "C:\\Python312"


def install(adapter, spec, **kwargs):
    actions = plan_install(spec, read_state(spec, adapter), **kwargs)
    apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    return actions


def uninstall_plan(adapter, name="PrefectServer", revoke=None):
    record = adapter.read_service(name)
    port = adapter.firewall_rule_port(firewall_rule_name(name))
    recorded = grants.recorded_grants(record.managed)
    return plan_uninstall(
        record,
        firewall_port=port,
        firewall_scope=adapter.firewall_rule_scope(firewall_rule_name(name)) if port is not None else None,
        stop_timeout_sec=25,
        log_files=[],
        database_files=[],
        revoke=recorded if revoke is None else revoke,
    )


def recorded(adapter, name="prefectserver"):
    return {(g["path"], g["principal"], g["rights"]) for g in parse_marker(adapter.services[name].marker)["grants"]}


# -- the account -----------------------------------------------------------------------------
def test_a_service_runs_as_its_own_virtual_account_unless_told_otherwise():
    spec = windows_spec()
    assert (spec.account, spec.account_principal, spec.account_password) == (VIRTUAL, VIRTUAL, None)
    assert normalize_account(None, "PrefectWorker") == ("NT SERVICE\\PrefectWorker", "NT SERVICE\\PrefectWorker", False)
    assert normalize_account("nt service\\PrefectServer") == (VIRTUAL, VIRTUAL, False)
    # LocalSystem only when asked for, and what a service without ObjectName runs as.
    assert windows_spec(account="LocalSystem").account_principal == "NT AUTHORITY\\SYSTEM"
    assert normalize_account(None) == ("LocalSystem", "NT AUTHORITY\\SYSTEM", False)
    gmsa = windows_spec(account="CONTOSO\\prefect-gmsa$")
    assert (gmsa.account, gmsa.account_password) == ("CONTOSO\\prefect-gmsa$", None)
    user = windows_spec(account="CONTOSO\\svc", credential={"password": "pw"})
    assert user.account == "CONTOSO\\svc" and user.account_password.get_secret_value() == "pw"


@pytest.mark.parametrize(
    ("values", "target", "fragment"),
    [
        ({"account": "NT SERVICE\\OtherService"}, "Account", "another service's virtual account"),
        ({"credential": {"userName": "NT SERVICE\\PrefectServer", "password": "pw"}}, "Credential", "has no password"),
        ({"account": "CONTOSO\\svc"}, "Credential", "needs -Credential"),
    ],
)
def test_account_mistakes_are_structured_errors(values, target, fragment):
    with pytest.raises(InvalidArgument) as raised:
        windows_spec(**values)
    assert raised.value.target == target and fragment in raised.value.message and raised.value.remediation


def test_the_plan_shows_the_account_and_every_grant():
    spec = windows_spec(python_path="C:\\Prefect\\venv\\Scripts\\python.exe")
    actions = plan_install(spec, read_state(spec, FakeServiceAdapter()))
    described = [a.description for a in actions]
    assert f"Run service 'PrefectServer' as {VIRTUAL}" in described
    assert f"Grant {VIRTUAL} Modify rights on '{HOME}'" in described
    assert f"Grant {VIRTUAL} Modify rights on '{LOGS}'" in described
    assert f"Grant {VIRTUAL} read and execute rights on 'C:\\Prefect\\venv'" in described
    grant_ids = {a.id for a in actions if a.kind == "grant-access"}
    installer = next(a.id for a in actions if a.kind == "install-service")
    # A virtual account exists only once its service does: every grant waits for the install.
    assert all(installer in a.depends_on for a in actions if a.id in grant_ids)


# -- which grants ------------------------------------------------------------------------------
def test_runtime_directories_are_the_environment_and_a_venvs_base_python():
    assert grants.runtime_directories("C:\\Prefect\\venv\\Scripts\\python.exe") == ("C:\\Prefect\\venv",)
    assert grants.runtime_directories("C:\\Python312\\python.exe") == ("C:\\Python312",)
    assert grants.runtime_directories("C:\\Prefect\\venv\\Scripts\\python.exe", "C:\\Users\\admin\\AppData\\Local\\Programs\\Python\\Python312") == (
        "C:\\Prefect\\venv",
        "C:\\Users\\admin\\AppData\\Local\\Programs\\Python\\Python312",
    )
    # A base inside the environment adds nothing.
    assert grants.runtime_directories("/opt/venv/bin/python", "/opt/venv/base") == ("/opt/venv",)


def test_venv_home_reads_pyvenv_cfg(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "pyvenv.cfg").write_text("include-system-site-packages = false\nhome = /usr/local/bin\n")
    assert grants.venv_home(str(tmp_path / "bin" / "python")) == "/usr/local/bin"
    assert grants.venv_home(str(tmp_path / "nothing" / "python")) is None


def test_wanted_grants_modify_each_data_folder_and_read_only_what_modify_does_not_cover():
    wanted = grants.wanted_grants(VIRTUAL, [HOME, LOGS], ["C:\\ProgramData\\Prefect\\venv", PYTHON_DIR])
    assert [(g.path, g.rights) for g in wanted] == [(HOME, "Modify"), (LOGS, "Modify"), (PYTHON_DIR, "ReadAndExecute")]


def test_a_sqlite_database_outside_prefect_home_gets_its_folder_granted_too():
    spec = windows_spec(database_url="sqlite+aiosqlite:///D:\\Data\\prefect.db")
    assert spec.modify_directories == (HOME, LOGS, "D:\\Data")
    actions = plan_install(spec, read_state(spec, FakeServiceAdapter()))
    assert ("create-directory", "D:\\Data") in [(a.kind, a.target) for a in actions]
    assert f"Grant {VIRTUAL} Modify rights on 'D:\\Data'" in [a.description for a in actions]


def test_recorded_grants_tell_a_recording_marker_from_an_older_one():
    assert grants.recorded_grants({"managedBy": "PrefectWin"}) is None
    assert grants.recorded_grants(None) is None
    assert grants.recorded_grants({"grants": []}) == ()
    entry = {"path": HOME, "principal": VIRTUAL, "rights": "Modify"}
    assert grants.recorded_grants({"grants": [entry, {"path": HOME, "rights": "Everything"}]}) == (Grant(**entry),)


# -- install, again, uninstall -------------------------------------------------------------
def test_install_records_what_it_granted_and_uninstall_revokes_exactly_that():
    adapter = FakeServiceAdapter(readable=[(PYTHON_DIR, "CONTOSO\\other")], access=[("D:\\unrelated", VIRTUAL)])
    spec = windows_spec(open_firewall=True, bind_address="0.0.0.0", allow_anonymous=True)
    install(adapter, spec, start=True)
    assert adapter.services["prefectserver"].parameters["ObjectName"] == (VIRTUAL,)
    assert recorded(adapter) == {(HOME, VIRTUAL, "Modify"), (LOGS, VIRTUAL, "Modify"), (PYTHON_DIR, VIRTUAL, "ReadAndExecute")}
    assert plan_install(spec, read_state(spec, adapter)) == []  # a second install changes nothing

    apply_plan(uninstall_plan(adapter), adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.access == {("D:\\unrelated", VIRTUAL)}  # never granted by Install: left alone
    assert adapter.readable == {(PYTHON_DIR, "CONTOSO\\other")}
    assert adapter.services == {} and adapter.firewall == {}


def test_a_grant_that_was_there_before_is_neither_recorded_nor_revoked():
    adapter = FakeServiceAdapter(directories=[HOME], access=[(HOME, VIRTUAL)], readable=[(PYTHON_DIR, VIRTUAL)])
    spec = windows_spec()
    actions = install(adapter, spec)
    assert [a.target for a in actions if a.kind == "grant-access"] == [LOGS]
    assert recorded(adapter) == {(LOGS, VIRTUAL, "Modify")}
    apply_plan(uninstall_plan(adapter), adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.access == {(HOME, VIRTUAL)} and adapter.readable == {(PYTHON_DIR, VIRTUAL)}


def test_changing_the_account_revokes_the_old_accounts_grants():
    adapter = FakeServiceAdapter()
    install(adapter, windows_spec())
    spec = windows_spec(account="CONTOSO\\prefect-gmsa$")
    actions = plan_install(spec, read_state(spec, adapter))
    assert [a.kind for a in actions if a.kind.endswith("-access")] == ["revoke-access"] * 3 + ["grant-access"] * 3
    apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert {who for _, who in adapter.access | adapter.readable} == {"CONTOSO\\prefect-gmsa$"}
    assert {who for _, who, _ in recorded(adapter)} == {"CONTOSO\\prefect-gmsa$"}
    assert plan_install(spec, read_state(spec, adapter)) == []


@pytest.mark.parametrize("kind", ["grant-access", "add-firewall-rule", "write-marker"])
def test_a_failed_install_rolls_back_its_grants_too(kind):
    adapter = FakeServiceAdapter()
    spec = windows_spec(open_firewall=True, bind_address="0.0.0.0", allow_anonymous=True)
    actions = plan_install(spec, read_state(spec, adapter))
    before = adapter.snapshot()
    # Fail at the last action of that kind, so every grant before it has been made.
    last = max(i for i, a in enumerate(actions) if a.kind == kind)
    method = {"grant-access": "grant_read_execute", "add-firewall-rule": "add_firewall_rule", "write-marker": "write_marker"}[kind]
    adapter.fail_on[method] = InjectedFailure("refused")
    with pytest.raises(ApplyFailed):
        apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.snapshot() == before, actions[last].description


def _older_service(adapter: FakeServiceAdapter, account: str) -> None:
    """A service as Install made it before grants were recorded: a marker without "grants"."""
    spec = windows_spec(account=account, **({"credential": {"password": "pw"}} if account.startswith("CONTOSO\\svc") else {}))
    install(adapter, spec)
    service = adapter.services["prefectserver"]
    service.marker = spec.marker()
    assert grants.recorded_grants(parse_marker(service.marker)) is None


def test_an_older_service_of_its_own_virtual_account_has_those_grants_revoked(monkeypatch):
    from prefectwin.commands import service as commands

    adapter = FakeServiceAdapter()
    _older_service(adapter, VIRTUAL)
    warnings: list[str] = []
    events = SilentEvents()
    monkeypatch.setattr(events, "warning", warnings.append, raising=False)
    revoke = commands._grants_to_revoke(adapter.read_service("PrefectServer"), adapter, events)
    assert {(g.path, g.rights) for g in revoke} == {(HOME, "Modify"), (LOGS, "Modify")} and warnings == []
    apply_plan(uninstall_plan(adapter, revoke=revoke), adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.access == set()
    # Reinstalling one first adopts those grants as its own, and records them.
    adapter = FakeServiceAdapter()
    _older_service(adapter, VIRTUAL)
    install(adapter, windows_spec())
    assert recorded(adapter) == {(HOME, VIRTUAL, "Modify"), (LOGS, VIRTUAL, "Modify"), (PYTHON_DIR, VIRTUAL, "ReadAndExecute")}


def test_an_older_service_of_another_account_keeps_its_rights_and_says_so(monkeypatch):
    from prefectwin.commands import service as commands

    adapter = FakeServiceAdapter()
    _older_service(adapter, "CONTOSO\\svc")
    warnings: list[str] = []
    events = SilentEvents()
    monkeypatch.setattr(events, "warning", warnings.append, raising=False)
    assert commands._grants_to_revoke(adapter.read_service("PrefectServer"), adapter, events) == []
    assert len(warnings) == 1 and "CONTOSO\\svc" in warnings[0] and "icacls" in warnings[0] and HOME in warnings[0]


# -- two services of one account -----------------------------------------------------------
GMSA = "CONTOSO\\prefect-gmsa$"


def shared_uninstall(adapter, name, events=None):
    """Uninstall as service.uninstall plans it: the grants it keeps for the other services."""
    from prefectwin.commands import service as commands

    revoke, hand_over, _ = commands._release_grants(adapter.read_service(name), adapter, events or SilentEvents())
    actions = plan_uninstall(
        adapter.read_service(name), firewall_port=None, stop_timeout_sec=25, log_files=[], database_files=[], revoke=revoke, hand_over=hand_over
    )
    apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    return actions


@pytest.mark.parametrize("account", [GMSA, "NT AUTHORITY\\LocalService"])
def test_uninstalling_one_of_two_services_of_one_account_keeps_what_the_other_needs(monkeypatch, account):
    adapter = FakeServiceAdapter()
    install(adapter, windows_spec(account=account))
    other = windows_spec(name="PrefectOther", account=account, port=4201)
    install(adapter, other)
    principal = normalize_account(account)[1]
    both = {(HOME, principal), (LOGS, principal)}
    assert adapter.access == both
    assert recorded(adapter, "prefectother") == set()  # the rights were there already: nothing recorded

    told: list[str] = []
    events = SilentEvents()
    monkeypatch.setattr(events, "information", told.append, raising=False)
    actions = shared_uninstall(adapter, "PrefectServer", events)
    assert [a.kind for a in actions if a.kind.endswith("-access")] == []
    assert adapter.access == both and adapter.readable == {(PYTHON_DIR, principal)}
    assert len(told) == 3 and all("'PrefectOther'" in t for t in told)
    # Handed over: the remaining service now records them, so its own Uninstall takes them back.
    assert recorded(adapter, "prefectother") == {(HOME, principal, "Modify"), (LOGS, principal, "Modify"), (PYTHON_DIR, principal, "ReadAndExecute")}
    assert plan_install(other, read_state(other, adapter)) == []  # reinstalling it keeps that record as is

    actions = shared_uninstall(adapter, "PrefectOther")
    assert sorted(a.target for a in actions if a.kind == "revoke-access") == sorted([HOME, LOGS, PYTHON_DIR])
    assert adapter.access == set() and adapter.readable == set() and adapter.services == {}


def test_a_failed_uninstall_restores_the_other_services_marker():
    adapter = FakeServiceAdapter()
    install(adapter, windows_spec(account=GMSA))
    install(adapter, windows_spec(name="PrefectOther", account=GMSA, port=4201))
    before, calls = adapter.snapshot(), len(adapter.calls)
    adapter.fail_on["remove_service"] = InjectedFailure("refused")
    with pytest.raises(ApplyFailed):
        shared_uninstall(adapter, "PrefectServer")
    # The hand-over was written (then undone) before removing the service failed.
    assert [c.args[0] for c in adapter.calls[calls:] if c.name == "write_marker"] == ["PrefectOther", "PrefectOther"]
    assert adapter.snapshot() == before and recorded(adapter, "prefectother") == set()


def test_virtual_accounts_never_share_so_each_uninstall_revokes_its_own():
    adapter = FakeServiceAdapter()
    install(adapter, windows_spec())
    install(adapter, windows_spec(name="PrefectOther", port=4201))
    actions = shared_uninstall(adapter, "PrefectServer")
    assert len([a for a in actions if a.kind == "revoke-access"]) == 3 and not [a for a in actions if a.kind == "write-marker"]
    assert {who for _, who in adapter.access} == {"NT SERVICE\\PrefectOther"}


def test_an_older_remaining_service_keeps_the_rights_without_a_marker_change():
    adapter = FakeServiceAdapter()
    install(adapter, windows_spec(account=GMSA))
    other = windows_spec(name="PrefectOther", account=GMSA, port=4201)
    install(adapter, other)
    adapter.services["prefectother"].marker = other.marker()  # from before grants were recorded
    actions = shared_uninstall(adapter, "PrefectServer")
    assert not [a for a in actions if a.kind in ("revoke-access", "write-marker")]
    assert adapter.access == {(HOME, GMSA), (LOGS, GMSA)}


def test_which_service_still_needs_a_grant():
    modify = Grant(path=HOME, principal=GMSA, rights="Modify")
    read = Grant(path=PYTHON_DIR, principal=GMSA, rights="ReadAndExecute")
    marker = {"prefectHome": HOME, "logPaths": [LOGS + "\\server.log"], "grants": []}
    other = grants.need_of("Other", GMSA, marker, PYTHON_DIR + "\\python.exe")
    assert other.modify == (HOME, LOGS) and other.read == (PYTHON_DIR,) and other.recorded == ()
    assert grants.needed_by(modify, [other]) == other and grants.needed_by(read, [other]) == other
    assert grants.needed_by(modify, [other.model_copy(update={"principal": "CONTOSO\\someone"})]) is None
    # Read and execute on PREFECT_HOME serves no Modify need; Modify on a parent serves both.
    assert grants.needed_by(read.model_copy(update={"path": HOME}), [other.model_copy(update={"read": ()})]) is None
    assert grants.needed_by(modify.model_copy(update={"path": "C:\\ProgramData"}), [other]) == other
    assert grants.needed_by(modify.model_copy(update={"path": "D:\\elsewhere"}), [other]) is None
    # A grant the other service records is needed even where its folders say otherwise.
    elsewhere = Grant(path="D:\\db", principal=GMSA, rights="Modify")
    assert grants.needed_by(elsewhere, [other.model_copy(update={"recorded": (elsewhere,)})]) is not None

    revoke, kept = grants.release_plan([modify, elsewhere], [other])
    assert revoke == (elsewhere,) and kept == ((modify, other),)
    handed = grants.handed_over(marker, [modify, modify])
    assert handed["grants"] == [modify.marker_entry()] and marker["grants"] == []
    assert grants.handed_over(handed, [modify]) is None  # recorded already
    assert grants.handed_over({"prefectHome": HOME}, [modify]) is None  # an older marker


def test_revoking_is_undone_by_granting_again_and_an_old_journal_step_means_modify():
    adapter = FakeServiceAdapter(readable=[(PYTHON_DIR, VIRTUAL)])
    revoke = Action(id="a1", kind="revoke-access", description="d", target=PYTHON_DIR, data={"path": PYTHON_DIR, "principal": VIRTUAL, "rights": "ReadAndExecute"})
    perform(revoke, Runtime(adapter, NSSM_PATH))
    assert adapter.readable == set()
    perform(inverse(revoke), Runtime(adapter, NSSM_PATH))
    assert adapter.readable == {(PYTHON_DIR, VIRTUAL)}
    old = Action(id="a2", kind="grant-access", description="d", target=HOME, data={"path": HOME, "principal": VIRTUAL})
    perform(old, Runtime(adapter, NSSM_PATH))
    assert adapter.access == {(HOME, VIRTUAL)}


# -- the firewall rule's scope -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("10.0.0.5", "10.0.0.5"),
        (" 10.0.0.0/24 ", "10.0.0.0/24"),
        ("10.0.0.0/255.255.255.0", "10.0.0.0/24"),
        ("10.0.0.5-10.0.0.9", "10.0.0.5-10.0.0.9"),
        ("fe80::1", "fe80::1"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:db8::1-2001:db8::ff", "2001:db8::1-2001:db8::ff"),
        ("localsubnet", "LocalSubnet"),
        ("DefaultGateway", "DefaultGateway"),
        ("dns", "DNS"),
        ("any", "Any"),
    ],
)
def test_allow_from_takes_what_windows_firewall_takes(given, canonical):
    assert firewall.normalize_address(given) == canonical


@pytest.mark.parametrize(
    "bad",
    ["", "server01", "10.0.0.0/33", "10.0.0.1/24", "10.0.0.9-10.0.0.5", "10.0.0.1-fe80::1", "10.0.0.1,10.0.0.2", "300.1.1.1", "10.0.0.1-"],
)
def test_bad_allow_from_is_a_structured_error_naming_the_parameter(bad):
    with pytest.raises(InvalidArgument) as raised:
        windows_spec(open_firewall=True, allow_from=[bad])
    error = raised.value
    assert error.target == "AllowFrom" and "-AllowFrom" in error.message and "LocalSubnet" in error.remediation


def test_the_rule_defaults_to_the_local_subnet_off_public_networks():
    spec = windows_spec(open_firewall=True, bind_address="0.0.0.0", allow_anonymous=True)
    assert (spec.firewall_remote_addresses, spec.firewall_profiles) == (("LocalSubnet",), ("Domain", "Private"))
    wide = windows_spec(open_firewall=True, allow_from=["10.1.0.0/16", "10.1.0.0/255.255.0.0", "LocalSubnet"], firewall_profile=["public", "Domain"])
    assert (wide.firewall_remote_addresses, wide.firewall_profiles) == (("10.1.0.0/16", "LocalSubnet"), ("Domain", "Public"))
    with pytest.raises(InvalidArgument) as raised:
        windows_spec(open_firewall=True, allow_from=["Any", "10.0.0.1"])
    assert raised.value.target == "AllowFrom"
    with pytest.raises(InvalidArgument) as raised:
        windows_spec(open_firewall=True, firewall_profile=["Home"])
    assert raised.value.target == "FirewallProfile"


@pytest.mark.parametrize(
    ("values", "target"),
    [
        ({"allow_from": ["10.0.0.0/24"]}, "AllowFrom"),
        ({"firewall_profile": ["Public"]}, "FirewallProfile"),
        ({"role": "Worker", "pool": "etl", "allow_from": ["10.0.0.0/24"]}, "AllowFrom"),
    ],
)
def test_scope_without_a_rule_is_refused(values, target):
    with pytest.raises(InvalidArgument) as raised:
        windows_spec(**values)
    assert raised.value.target == target


def test_scope_comparison_reads_windows_own_spellings():
    wanted = (("10.0.0.0/24", "LocalSubnet"), ("Domain", "Private"))
    assert firewall.same_scope(wanted, (("LocalSubnet", "10.0.0.0/255.255.255.0"), ("Private", "Domain")))
    assert not firewall.same_scope(wanted, (("Any",), ("Domain", "Private")))
    assert not firewall.same_scope(wanted, (("10.0.0.0/24", "LocalSubnet"), ("Domain", "Private", "Public")))
    assert not firewall.same_scope(wanted, None)
    assert firewall.profiles_from_bits(0) == ("Domain", "Private", "Public") and firewall.profiles_from_bits(3) == ("Domain", "Private")
    assert firewall.open_to_everyone(["Any"]) and firewall.open_to_everyone(["*"]) and firewall.open_to_everyone([])
    assert not firewall.open_to_everyone(["LocalSubnet"])


def test_the_plan_shows_the_rules_scope_and_applies_it():
    adapter = FakeServiceAdapter()
    spec = windows_spec(open_firewall=True, bind_address="0.0.0.0", allow_anonymous=True, allow_from=["10.0.0.0/24"])
    actions = install(adapter, spec)
    add = next(a for a in actions if a.kind == "add-firewall-rule")
    assert add.description == f"Add inbound firewall rule '{RULE}' allowing TCP 4200 from 10.0.0.0/24 on the Domain, Private profiles"
    call = adapter.calls_to("add_firewall_rule")[0]
    assert call.args == (RULE, 4200) and call.kwargs == {"remote_addresses": ("10.0.0.0/24",), "profiles": ("Domain", "Private")}


def test_an_open_rule_from_before_is_replaced_by_a_scoped_one_and_a_failure_restores_it():
    adapter = FakeServiceAdapter()
    install(adapter, windows_spec(open_firewall=True, bind_address="0.0.0.0", allow_anonymous=True))
    adapter.firewall_scopes.pop(RULE)  # as an older PrefectWin made it: every address, every profile
    spec = windows_spec(open_firewall=True, bind_address="0.0.0.0", allow_anonymous=True)
    actions = plan_install(spec, read_state(spec, adapter))
    assert [a.kind for a in actions] == ["remove-firewall-rule", "add-firewall-rule"]
    assert "from Any on the Domain, Private, Public profiles" in actions[0].description
    before = adapter.snapshot()
    adapter.fail_at_change = adapter.changes + 2  # the add, after the old rule was removed
    with pytest.raises(ApplyFailed):
        apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.firewall == before["firewall"]
    assert adapter.firewall_rule_scope(RULE) == (("Any",), ("Domain", "Private", "Public"))
    apply_plan(plan_install(spec, read_state(spec, adapter)), adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.firewall_rule_scope(RULE) == (("LocalSubnet",), ("Domain", "Private"))
    assert plan_install(spec, read_state(spec, adapter)) == []


def test_a_failed_uninstall_restores_the_rule_with_its_scope_not_wider():
    adapter = FakeServiceAdapter()
    install(adapter, windows_spec(open_firewall=True, bind_address="0.0.0.0", allow_anonymous=True, allow_from=["10.0.0.0/24"]), start=True)
    before = adapter.snapshot()
    adapter.fail_on["revoke_modify"] = InjectedFailure("refused")
    with pytest.raises(ApplyFailed):
        apply_plan(uninstall_plan(adapter), adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.snapshot() == before
    assert adapter.firewall_rule_scope(RULE) == (("10.0.0.0/24",), ("Domain", "Private"))


# -- what reaches Windows --------------------------------------------------------------------
class Runner:
    def __init__(self) -> None:
        self.argv: list[list[str]] = []

    def __call__(self, argv: list[str]) -> tuple[int, str]:
        self.argv.append(list(argv))
        return 0, ""


def test_netsh_gets_the_scope_as_arguments(monkeypatch):
    monkeypatch.setenv("SystemRoot", "C:\\Windows")
    windows = WindowsAdapter(net=FakeServiceDotNet())
    windows._run = Runner()
    windows.add_firewall_rule(RULE, 4200, ("LocalSubnet", "10.0.0.0/24"), ("Domain", "Private"))
    assert windows._run.argv[-1][1:] == [
        "advfirewall", "firewall", "add", "rule", f"name={RULE}", "dir=in", "action=allow", "protocol=TCP", "localport=4200",
        "remoteip=LocalSubnet,10.0.0.0/24", "profile=domain,private",
    ]
    windows.add_firewall_rule(RULE, 4200)  # without a scope: netsh's own defaults, as before
    assert windows._run.argv[-1][-1] == "localport=4200"


def test_the_rules_scope_is_read_back_through_wmi():
    net = FakeServiceDotNet()
    windows = WindowsAdapter(net=net)

    def wmi(namespace, query):
        if "MSFT_NetFirewallRule" in query:
            return [{"InstanceID": "{r}", "Profile": 3}] if RULE in query else []
        if "MSFT_NetFirewallAddressFilter" in query:
            return [{"RemoteAddress": ["LocalSubnet", "10.0.0.0/255.255.255.0"]}]
        return [{"LocalPort": ["4200"]}]

    net.wmi = wmi
    assert windows.firewall_rule_scope(RULE) == (("LocalSubnet", "10.0.0.0/255.255.255.0"), ("Domain", "Private"))
    assert windows.firewall_rule_scope("PrefectWin-Other") is None
    net.wmi = lambda namespace, query: [{"InstanceID": "{r}", "Profile": 0}] if "MSFT_NetFirewallRule" in query else [{"RemoteAddress": "Any"}]
    assert windows.firewall_rule_scope(RULE) == (("Any",), ("Domain", "Private", "Public"))


def test_read_and_execute_is_found_through_the_groups_of_a_service_token_and_granted_otherwise(tmp_path):
    net = FakeServiceDotNet()
    windows = WindowsAdapter(net=net)
    path = str(tmp_path)
    assert windows.has_read_execute(path, VIRTUAL) is False
    net.acl[path] = []
    net.grant(path, "x", rights=READ_EXECUTE)
    net.acl[path][-1].IdentityReference.Value = "S-1-5-32-545"  # BUILTIN\Users
    assert windows.has_read_execute(path, VIRTUAL) is True
    assert windows.has_modify(path, VIRTUAL) is False  # Modify counts the account's own grants only
    net.acl[path] = []
    windows.grant_read_execute(path, VIRTUAL)
    rule = next(args for name, args in net.calls if name == "FileSystemAccessRule")
    assert rule[:2] == (VIRTUAL, READ_EXECUTE) and rule[-1] == "Allow"
    assert windows.has_read_execute(path, VIRTUAL) is True
    windows.revoke_read_execute(path, VIRTUAL)
    assert windows.has_read_execute(path, VIRTUAL) is False


def test_the_diagnosis_reads_each_rules_remote_addresses_and_profiles():
    net = FakeDotNet(
        wmi={
            (FIREWALL_NAMESPACE, "MSFT_NetFirewallPortFilter"): [{"InstanceID": "{a}", "Protocol": "TCP", "LocalPort": ["4200"]}],
            (FIREWALL_NAMESPACE, "MSFT_NetFirewallRule"): [
                {"InstanceID": "{a}", "DisplayName": "PrefectWin-PrefectServer", "Enabled": 1, "Direction": 1, "Action": 2, "Profile": 0},
                {"InstanceID": "{b}", "DisplayName": "Scoped", "Enabled": 1, "Direction": 1, "Action": 2, "Profile": 2},
            ],
            (FIREWALL_NAMESPACE, "MSFT_NetFirewallAddressFilter"): [
                {"InstanceID": "{a}", "RemoteAddress": "Any"},
                {"InstanceID": "{b}", "RemoteAddress": ["LocalSubnet"]},
            ],
        }
    )
    rules = WindowsAdapter(net=net).facts.firewall_rules()
    assert [(r.name, r.remote_addresses, r.profiles) for r in rules] == [
        ("PrefectWin-PrefectServer", ("Any",), ("Domain", "Private", "Public")),
        ("Scoped", ("LocalSubnet",), ("Private",)),
    ]


def test_without_address_filters_in_wmi_the_rules_are_still_read_their_scope_unknown():
    net = FakeDotNet(
        wmi={
            (FIREWALL_NAMESPACE, "MSFT_NetFirewallPortFilter"): [],
            (FIREWALL_NAMESPACE, "MSFT_NetFirewallRule"): [{"InstanceID": "{a}", "DisplayName": "X", "Enabled": 1, "Direction": 1, "Action": 2}],
        }
    )
    [rule] = WindowsAdapter(net=net).facts.firewall_rules()
    assert (rule.name, rule.remote_addresses, rule.profiles) == ("X", None, None)


# -- the diagnosis check -------------------------------------------------------------------------
def scope_facts(*rules: FirewallRule, **fields):
    return make_facts(role="Server", os_name="Windows", windows=windows_facts(firewall_rules=rules, **fields))


def fw(name="PrefectWin-PrefectServer", ports="4200", remote=("Any",), profiles=("Domain", "Private", "Public"), **values):
    return FirewallRule(
        name=name, enabled=values.get("enabled", True), inbound=True, allow=True, protocol=values.get("protocol", "TCP"),
        local_ports=ports, remote_addresses=remote, profiles=profiles,
    )


def check(facts):
    return next(c for c in REGISTRY if c.name == "windows.firewall-scope").run(facts)


def test_the_scope_check_is_registered_after_the_firewall_check():
    assert CHECK_NAMES.index("windows.firewall-scope") == CHECK_NAMES.index("windows.firewall") + 1


@pytest.mark.parametrize(
    "rule",
    [fw(), fw(name="Prefect server 4200", remote=("*",)), fw(name="Hand-made", ports="4000-4300", remote=("0.0.0.0/0", "::/0"), profiles=("Domain",))],
    ids=["prefectwin-any", "port-star", "range-everything"],
)
def test_a_rule_open_to_every_address_warns(rule):
    result = check(scope_facts(rule, fw(name="Scoped", remote=("LocalSubnet",))))
    assert result.status == "Warning" and rule.name in result.message and "every address" in result.message
    assert "-RemoteAddress LocalSubnet" in result.remediation and "-AllowFrom" in result.remediation
    assert result.data["rules"] == [rule.name]
    assert ("public networks too" in result.message) == ("Public" in rule.profiles)


@pytest.mark.parametrize(
    "rules",
    [
        (fw(remote=("LocalSubnet",), profiles=("Domain", "Private")),),
        (fw(name="Core Networking", ports="Any"),),  # every port, but not the Prefect port by name
        (fw(enabled=False),),
        (fw(name="Other app", ports="8080"),),
        (),
    ],
    ids=["scoped", "any-port", "disabled", "other-port", "none"],
)
def test_scoped_or_unrelated_rules_pass(rules):
    assert check(scope_facts(*rules)).status == "Pass"


def test_the_scope_check_skips_what_it_cannot_judge():
    assert check(make_facts(role="Server", os_name="Linux")).status == "Skipped"
    unreadable = make_facts(role="Server", os_name="Windows", windows=windows_facts(firewall_rules=None, firewall_error="Access denied"))
    assert check(unreadable).status == "Skipped" and "Access denied" in check(unreadable).message
    assert check(scope_facts(fw(remote=None))).status == "Skipped"


@pytest.mark.parametrize(
    ("allow_from", "profiles"),
    [(["Any"], None), (["Any"], ["Domain", "Private", "Public"]), (["10.0.0.0/24"], None), (None, None), (None, ["Public"])],
    ids=["any", "any-public", "subnet", "default", "default-public"],
)
def test_the_install_warns_about_an_open_rule_exactly_when_the_diagnosis_of_that_rule_would(allow_from, profiles):
    """The install-time warning and windows.firewall-scope judge the same rule alike: the rule
    the install adds (read back from the fake firewall) is what the check is given."""
    adapter = FakeServiceAdapter()
    values = {"open_firewall": True, "bind_address": "0.0.0.0", "allow_anonymous": True}
    if allow_from:
        values["allow_from"] = allow_from
    if profiles:
        values["firewall_profile"] = profiles
    spec = windows_spec(**values)
    install(adapter, spec)
    remote, chosen = adapter.firewall_rule_scope(RULE)
    diagnosed = check(scope_facts(fw(remote=remote, profiles=chosen)))
    warning = firewall.scope_warning(spec)
    assert (warning is not None) == (diagnosed.status == "Warning"), (warning, diagnosed)
    if warning:
        assert RULE in warning and "every address" in warning and "-AllowFrom" in warning and "run code" in warning
        assert ("public networks too" in warning) == ("public networks too" in diagnosed.message)


def test_install_what_if_warns_about_allow_from_any(service_adapter, tmp_path, free_port):
    import io
    import json as _json

    from prefectwin.events import Events
    from prefectwin.rpc import handle

    params = {
        "name": "PrefectServer", "role": "Server", "prefectHome": str(tmp_path / "home"), "port": free_port(), "bindAddress": "0.0.0.0",
        "allowAnonymous": True, "openFirewall": True,
    }
    for allow_from, warned in ((["Any"], True), (["10.0.0.0/24"], False)):
        stream = io.StringIO()
        response, _ = handle(_json.dumps({"protocol": 1, "command": "service.install", "params": {**params, "allowFrom": allow_from}, "whatIf": True}).encode(), Events(stream))
        assert response["ok"], response
        warnings = [e["message"] for e in map(_json.loads, stream.getvalue().splitlines()) if e.get("level") == "warning"]
        assert any("every address" in w and "-AllowFrom Any" in w for w in warnings) == warned, warnings
    assert service_adapter.changing_calls() == []
