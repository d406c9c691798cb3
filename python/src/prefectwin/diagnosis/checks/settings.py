"""PREFECT_HOME, the active profile, and PREFECT_API_URL."""
from __future__ import annotations

from prefectwin.diagnosis.api_url import parse_api_url
from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
from prefectwin.diagnosis.checks.prefect import broken_install_remediation, supported_release_problem
from prefectwin.diagnosis.facts import Facts
from prefectwin.hosts import LOOPBACK_HOSTS, WILDCARD_HOSTS, client_host


def _no_settings(facts: Facts):
    prefect = facts.prefect
    if not prefect.installed:
        return skipped("Prefect is not installed in this interpreter; see prefect.installed.")
    if supported_release_problem(prefect.version, facts.python.executable or "python") is not None:
        return skipped(f"Prefect {prefect.version} is not a release PrefectWin supports; see prefect.installed.")
    if prefect.settings_error and prefect.settings_error_kind == "settings":
        return fail(
            f"Prefect could not load its settings: {prefect.settings_error}",
            "Fix or remove the invalid setting (see Get-PrefectSetting / 'prefect config view').",
        )
    if prefect.settings_error and prefect.settings_error_kind == "filesystem":
        from prefectwin.diagnosis.checks.prefect import filesystem_remediation

        return fail(f"Prefect could not read a file or folder it needs: {prefect.settings_error}", filesystem_remediation(None))
    if prefect.settings_error:
        # Not a setting's fault: the install is broken, and the fix is the install's.
        python = facts.python.executable or "python"
        return fail(
            f"Prefect in {python} could not be asked for its settings: {prefect.settings_error}",
            broken_install_remediation(python, prefect.version, prefect.dependencies, prefect.missing_module),
        )
    return None


@check("settings.home", "probe", "home")
def settings_home(facts: Facts):
    home = facts.home
    if home is None:
        return _no_settings(facts) or skipped("PREFECT_HOME is not known.")
    db = facts.database
    data = dict(path=home.path, driveKind=home.drive_kind, exists=home.exists, writable=home.writable)
    if home.drive_kind == "mapped":
        target = home.unc_target or r"\\server\share\prefect"
        return fail(
            f"PREFECT_HOME {home.path} is on a mapped drive; services run in another logon session and cannot see it.",
            f"Use the UNC path instead, e.g. -PrefectHome '{target}'.",
            uncTarget=home.unc_target,
            **data,
        )
    if home.exists and not home.is_dir:
        return fail(f"PREFECT_HOME {home.path} is a file, not a directory.", "Point PREFECT_HOME at a directory.", **data)
    if home.exists and not home.writable:
        return fail(
            f"PREFECT_HOME {home.path} is not writable by this account.",
            "Grant the account (and the service account) Modify rights on it, or choose another -PrefectHome.",
            **data,
        )
    if not home.exists and not home.creatable:
        return fail(
            f"PREFECT_HOME {home.path} does not exist and cannot be created by this account.",
            "Create it as an administrator, or choose a writable -PrefectHome.",
            **data,
        )
    if home.drive_kind == "unc" and (db is None or db.kind == "sqlite"):
        return warn(
            f"PREFECT_HOME {home.path} is on a network share and Prefect would keep its SQLite database there; SQLite locking over SMB causes 'database is locked' errors.",
            "Use PostgreSQL (PREFECT_SERVER_DATABASE_CONNECTION_URL), or keep PREFECT_HOME on a local disk.",
            **data,
        )
    state = "exists and is writable" if home.exists else "does not exist yet but can be created"
    return passed(f"PREFECT_HOME {home.path} {state}.", **data)


@check("settings.profile", "probe")
def settings_profile(facts: Facts):
    problem = _no_settings(facts)
    if problem:
        return problem
    prefect = facts.prefect
    data = dict(profile=prefect.profile, profilesPath=prefect.profiles_path, apiUrl=prefect.api_url, ephemeral=prefect.ephemeral_enabled)
    if facts.role == "Worker" and not prefect.api_url and prefect.ephemeral_enabled:
        return warn(
            f"Active profile '{prefect.profile}' has no PREFECT_API_URL: the worker would start its own ephemeral server with a private SQLite database, and its runs would be invisible.",
            "Set PREFECT_API_URL to your server, e.g. 'Set-PrefectSetting PREFECT_API_URL http://server:4200/api -Scope Profile'.",
            **data,
        )
    return passed(f"Active profile is '{prefect.profile}'.", **data)


def _effective_port(facts: Facts) -> int:
    return facts.requested_port or facts.prefect.server_port or 4200


def _suggested_url(facts: Facts) -> str:
    return f"http://{client_host(facts.prefect.server_host)}:{_effective_port(facts)}/api"


@check("settings.api-url", "probe")
def settings_api_url(facts: Facts):
    problem = _no_settings(facts)
    if problem:
        return problem
    prefect = facts.prefect
    url = prefect.api_url
    suggested = _suggested_url(facts)
    parsed = parse_api_url(url) if url else None
    data = dict(
        apiUrl=parsed.shown if parsed else None,
        suggestedUrl=suggested,
        serverHost=prefect.server_host,
        serverPort=_effective_port(facts),
        source=prefect.source_of("PREFECT_API_URL"),
    )
    if not url:
        who = "this worker cannot find its server" if facts.role == "Worker" else "the CLI and workers on this machine will not find the server"
        return warn(f"PREFECT_API_URL is not set; {who}.", f"Set PREFECT_API_URL={suggested}.", **data)
    assert parsed is not None
    shown = parsed.shown
    if parsed.problem:
        return fail(f"PREFECT_API_URL '{shown}' cannot be used: {parsed.problem}.", f"Set PREFECT_API_URL={suggested}.", **data)
    url_port = parsed.port
    problems = []
    if not parsed.path.rstrip("/").endswith("/api"):
        problems.append("its path does not end in /api")
    if facts.role == "Server" or facts.requested_port:
        if url_port != _effective_port(facts):
            problems.append(f"it uses port {url_port} but the server port is {_effective_port(facts)}")
        bound = prefect.server_host or "127.0.0.1"
        host = parsed.host.lower()
        if facts.role == "Server" and bound not in WILDCARD_HOSTS and host != bound.lower() and not (bound in LOOPBACK_HOSTS and host in LOOPBACK_HOSTS):
            problems.append(f"it names host {host} but the server binds {bound}")
    findings, remedies = [], []
    if problems:
        findings.append(f"does not agree with the server: {'; '.join(problems)}")
        remedies.append(f"Set PREFECT_API_URL={suggested}.")
    if parsed.has_userinfo:
        findings.append("carries a user name and password, which every process and log that sees the setting can read")
        remedies.append("Remove the credentials from the URL; give them with PREFECT_API_AUTH_STRING instead.")
    if findings:
        return warn(f"PREFECT_API_URL '{shown}' {', and '.join(findings)}.", " ".join(remedies), **data)
    return passed(f"PREFECT_API_URL is {shown}.", **data)
