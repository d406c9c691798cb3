"""Planning and applying against the recording fake adapter: first install, idempotency, the
changed-port diff, take-over rules, uninstall, and rollback when ANY step fails."""
from __future__ import annotations

import pytest
from pydantic import SecretStr

from fakes.services import NSSM_PATH, FakeService, FakeServiceAdapter, InjectedFailure
from prefectwin.errors import ApplyFailed, InvalidArgument
from prefectwin.events import SilentEvents
from service_helpers import apply_plan
from prefectwin.services.plan import plan_install, plan_uninstall
from prefectwin.services.grants import recorded_grants
from prefectwin.services.spec import firewall_rule_name, parse_marker
from prefectwin.services.state import read_state
from service_helpers import windows_spec

PASSWORD = "Sup3r-Secret-Pw!"


def full_spec(**values):
    """A server that exercises every kind of install action."""
    values.setdefault("port", 4200)
    values.setdefault("bind_address", "0.0.0.0")
    values.setdefault("open_firewall", True)
    values.setdefault("account", "CONTOSO\\svc-prefect")
    values.setdefault("credential", {"password": PASSWORD})
    values.setdefault("database_url", SecretStr("postgresql+asyncpg://prefect@db:5432/prefect"))
    values.setdefault("database_credential", {"password": PASSWORD})
    values.setdefault("auth_credential", {"userName": "admin", "password": PASSWORD})
    return windows_spec(**values)


def install(adapter, spec, *, start=False, force=False):
    actions = plan_install(spec, read_state(spec, adapter), start=start, force=force)
    if actions:
        apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    return actions


def kinds(actions):
    return [(a.kind, a.parameter) if a.parameter else a.kind for a in actions]


# -- first install -------------------------------------------------------------------------
def test_first_install_plans_every_step_in_order():
    spec = full_spec()
    actions = plan_install(spec, read_state(spec, FakeServiceAdapter()), start=True)
    names = [a.kind for a in actions]
    # The secrets file is written once the service, and so the account its ACL names, exists.
    assert names[:4] == ["create-directory", "create-directory", "install-service", "write-secrets-file"]
    [secrets] = [a for a in actions if a.kind == "write-secrets-file"]
    assert sorted(a.kind for a in actions if a.id in secrets.depends_on) == ["create-directory", "install-service"]
    assert names[-5:] == ["grant-access", "grant-access", "add-firewall-rule", "set-failure-actions", "start-service"]
    assert {"set-parameter", "set-account", "write-marker"} <= set(names)
    set_params = [a.parameter for a in actions if a.kind == "set-parameter"]
    assert "Application" not in set_params  # nssm install sets it
    assert {"AppParameters", "AppDirectory", "AppEnvironmentExtra", "AppStopMethodConsole", "AppKillProcessTree", "AppNoConsole"} <= set(set_params)
    assert all(a.description and a.target for a in actions)


def test_plan_on_the_wire_carries_descriptions_but_never_values_or_passwords():
    spec = full_spec()
    actions = plan_install(spec, read_state(spec, FakeServiceAdapter()), start=True)
    for action in actions:
        wire = action.model_dump(mode="json", by_alias=True)
        assert set(wire) == {"id", "kind", "description", "target", "dependsOn", "parameter", "scope", "impact"}
        assert PASSWORD not in str(wire)
    env = next(a for a in actions if a.parameter == "AppEnvironmentExtra")
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in env.description  # NSSM never holds it
    assert f"PREFECT_PROFILES_PATH={spec.secrets_file}" in env.description
    secrets = next(a for a in actions if a.kind == "write-secrets-file")
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" in secrets.description and secrets.target == spec.secrets_file


def test_applying_the_first_install_builds_the_service_as_specified():
    adapter = FakeServiceAdapter()
    spec = full_spec()
    install(adapter, spec, start=True)
    service = adapter.services["prefectserver"]
    assert service.status == "Running" and service.password_set
    assert service.parameters["ObjectName"] == ("CONTOSO\\svc-prefect",)
    for parameter, values in spec.nssm_parameters().items():
        expected = tuple(v.get_secret_value() if isinstance(v, SecretStr) else v for v in values)
        assert service.parameters.get(parameter, ()) == expected, parameter
    marker = parse_marker(service.marker)
    recorded = marker.pop("grants")
    assert marker == spec.marker_data()
    assert adapter.firewall == {firewall_rule_name("PrefectServer"): 4200}
    assert adapter.access == {(spec.prefect_home, "CONTOSO\\svc-prefect"), (spec.log_directory, "CONTOSO\\svc-prefect")}
    assert adapter.readable == {("C:\\Python312", "CONTOSO\\svc-prefect")}
    # Every grant made is recorded, so that Uninstall can take exactly these back.
    assert {(g["path"], g["rights"]) for g in recorded} == {(spec.prefect_home, "Modify"), (spec.log_directory, "Modify"), ("C:\\Python312", "ReadAndExecute")}
    # One KEY=VALUE argument per variable, as NSSM wants them.
    env_argv = next(argv for argv in adapter.nssm_argv if argv[1:4] == ["set", "PrefectServer", "AppEnvironmentExtra"])
    assert env_argv[4:] == [f"{k}={v}" for k, v in sorted(spec.process_environment().items())]


# -- idempotency and diffs -----------------------------------------------------------------
def test_the_same_spec_twice_gives_an_empty_plan():
    adapter = FakeServiceAdapter()
    spec = full_spec()
    assert install(adapter, spec, start=True)
    before = adapter.snapshot()
    again = plan_install(spec, read_state(spec, adapter), start=True)
    assert again == []
    assert adapter.snapshot() == before


def test_a_changed_port_plans_only_what_differs_then_a_restart():
    adapter = FakeServiceAdapter()
    install(adapter, full_spec(), start=True)
    changed = full_spec(port=4300)
    actions = plan_install(changed, read_state(changed, adapter), start=True)
    assert kinds(actions) == [
        ("set-parameter", "AppParameters"),
        ("set-parameter", "AppEnvironmentExtra"),
        "write-marker",
        "remove-firewall-rule",
        "add-firewall-rule",
        "restart-service",
    ]
    env = actions[1].description
    assert "PREFECT_SERVER_API_PORT=4300" in env and "PREFECT_API_URL=http://127.0.0.1:4300/api" in env
    assert "PREFECT_HOME" not in env  # unchanged variables are not listed
    assert "4200" in actions[0].description and "4300" in actions[0].description
    apply_plan(actions, adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert plan_install(changed, read_state(changed, adapter), start=True) == []
    assert adapter.firewall == {firewall_rule_name("PrefectServer"): 4300}


def test_a_changed_port_of_a_stopped_service_needs_no_restart():
    adapter = FakeServiceAdapter()
    install(adapter, full_spec(open_firewall=False))
    changed = full_spec(port=4300, open_firewall=False)
    assert kinds(plan_install(changed, read_state(changed, adapter))) == [
        ("set-parameter", "AppParameters"),
        ("set-parameter", "AppEnvironmentExtra"),
        "write-marker",
    ]


def test_display_only_changes_do_not_restart():
    adapter = FakeServiceAdapter()
    install(adapter, full_spec(), start=True)
    changed = full_spec(startup_type="AutomaticDelayed")
    assert kinds(plan_install(changed, read_state(changed, adapter))) == [("set-parameter", "Start")]


def test_account_password_is_set_again_only_with_force():
    adapter = FakeServiceAdapter()
    spec = full_spec()
    install(adapter, spec, start=True)
    assert plan_install(spec, read_state(spec, adapter)) == []
    forced = plan_install(spec, read_state(spec, adapter), force=True)
    assert kinds(forced) == [("set-account", "ObjectName"), "restart-service"]
    assert PASSWORD not in forced[0].description


def test_an_unmanaged_service_is_taken_over_only_with_force_and_a_foreign_one_never():
    foreign_nssm = FakeService(name="PrefectServer", parameters={"Application": ("C:\\x.exe",)})
    adapter = FakeServiceAdapter(services=[foreign_nssm])
    spec = full_spec()
    with pytest.raises(InvalidArgument) as raised:
        plan_install(spec, read_state(spec, adapter))
    assert raised.value.target == "Name" and "-Force" in raised.value.remediation
    assert plan_install(spec, read_state(spec, adapter), force=True)
    not_nssm = FakeServiceAdapter(services=[FakeService(name="PrefectServer", parameters={"Start": ("SERVICE_AUTO_START",)})])
    with pytest.raises(InvalidArgument):
        plan_install(spec, read_state(spec, not_nssm), force=True)


def test_dropping_open_firewall_removes_the_rule_it_created():
    adapter = FakeServiceAdapter()
    install(adapter, full_spec())
    without = full_spec(open_firewall=False)
    actions = plan_install(without, read_state(without, adapter))
    assert kinds(actions) == ["write-marker", "remove-firewall-rule"]


# -- rollback: fail at every step in turn --------------------------------------------------
def _count_changes(adapter_factory, run) -> int:
    adapter = adapter_factory()
    run(adapter)
    return adapter.changes


def _fresh():
    return FakeServiceAdapter()


def _running_install():
    adapter = FakeServiceAdapter()
    install(adapter, full_spec(), start=True)
    adapter.calls.clear()
    adapter.changes = 0
    adapter.nssm_argv.clear()
    return adapter


FIRST_INSTALL_STEPS = _count_changes(_fresh, lambda a: install(a, full_spec(), start=True))
PORT_CHANGE_STEPS = _count_changes(_running_install, lambda a: install(a, full_spec(port=4300), start=True))


def test_the_scenarios_have_many_steps():
    assert FIRST_INSTALL_STEPS >= 25 and PORT_CHANGE_STEPS == 7  # restart = stop + start


@pytest.mark.parametrize("step", range(1, FIRST_INSTALL_STEPS + 1))
def test_first_install_failing_at_any_step_leaves_nothing_behind(step):
    adapter = FakeServiceAdapter()
    before = adapter.snapshot()
    adapter.fail_at_change = step
    with pytest.raises(ApplyFailed) as raised:
        install(adapter, full_spec(), start=True)
    assert adapter.snapshot() == before
    error = raised.value
    assert "injected failure" in error.message and "Rolled back" in error.message
    assert error.details[0]["code"] == InjectedFailure.__name__
    assert PASSWORD not in str(error.to_wire())
    assert all(entry["rolledBack"] for entry in error.details[1:]), error.details


@pytest.mark.parametrize("step", range(1, PORT_CHANGE_STEPS + 1))
def test_port_change_failing_at_any_step_restores_the_running_service(step):
    adapter = _running_install()
    before = adapter.snapshot()
    adapter.fail_at_change = step
    with pytest.raises(ApplyFailed):
        install(adapter, full_spec(port=4300), start=True)
    assert adapter.snapshot() == before
    assert adapter.services["prefectserver"].status == "Running"


def test_a_failing_undo_is_reported_not_hidden():
    adapter = FakeServiceAdapter()
    adapter.fail_at_change = 5
    adapter.fail_on["remove_service"] = InjectedFailure("cannot remove")
    with pytest.raises(ApplyFailed) as raised:
        install(adapter, full_spec())
    error = raised.value
    assert "not rolled back" in error.message and "cannot remove" in error.message
    assert any(entry["rolledBack"] is False for entry in error.details[1:])


# -- uninstall -----------------------------------------------------------------------------
def _uninstall_plan(adapter, *, logs=(), db=()):
    record = adapter.read_service("PrefectServer")
    return plan_uninstall(
        record,
        firewall_port=adapter.firewall_rule_port(firewall_rule_name("PrefectServer")),
        firewall_scope=adapter.firewall_rule_scope(firewall_rule_name("PrefectServer")),
        revoke=recorded_grants(record.managed) or (),
        stop_timeout_sec=25,
        log_files=list(logs),
        database_files=list(db),
    )


def test_uninstall_stops_removes_the_rule_and_the_service_and_only_the_files_asked_for():
    adapter = _running_install()
    actions = _uninstall_plan(adapter, logs=["C:\\l\\a.log"], db=["C:\\ProgramData\\Prefect\\prefect.db"])
    revokes = ["revoke-access"] * 3
    assert kinds(actions) == ["stop-service", "remove-firewall-rule", *revokes, "remove-service", "remove-path", "remove-path"]
    assert actions[-1].impact == "High" and actions[-2].impact == "Medium"
    assert "25 s" in actions[0].description
    assert kinds(_uninstall_plan(adapter)) == ["stop-service", "remove-firewall-rule", *revokes, "remove-service"]
    apply_plan(_uninstall_plan(adapter), adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.services == {} and adapter.firewall == {}
    assert adapter.access == set() and adapter.readable == set()  # every grant Install made is revoked
    assert adapter.directories  # PREFECT_HOME and the logs stay


def test_uninstall_refuses_an_unmanaged_service_without_force():
    adapter = FakeServiceAdapter(services=[FakeService(name="PrefectServer", parameters={"Application": ("C:\\x.exe",)})])
    with pytest.raises(InvalidArgument):
        _uninstall_plan(adapter)
    assert plan_uninstall(adapter.read_service("PrefectServer"), firewall_port=None, stop_timeout_sec=5, log_files=[], database_files=[], force=True)


@pytest.mark.parametrize("step", [1, 2, 3, 4, 5, 6])
def test_uninstall_failing_before_the_removal_restores_the_service(step):
    adapter = _running_install()
    before = adapter.snapshot()
    adapter.fail_at_change = step
    with pytest.raises(ApplyFailed):
        apply_plan(_uninstall_plan(adapter), adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert adapter.snapshot() == before


def test_uninstall_failing_after_the_removal_says_what_could_not_be_undone():
    adapter = _running_install()
    adapter.fail_on["remove_path"] = InjectedFailure("file is locked")
    with pytest.raises(ApplyFailed) as raised:
        apply_plan(_uninstall_plan(adapter, logs=["C:\\l\\a.log"]), adapter, nssm=NSSM_PATH, events=SilentEvents())
    assert "a removed service is not re-created" in raised.value.message
    assert "file is locked" in raised.value.message
