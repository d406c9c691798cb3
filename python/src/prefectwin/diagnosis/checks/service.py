"""Checks of an installed service as it runs (Test-PrefectEnvironment -ServiceName): its
working folder, environment, account, and whether a worker and its server agree.

Skipped unless the diagnosis was pointed at a service: the shell has no such facts.
"""
from __future__ import annotations

import urllib.parse
from typing import Any, Optional

from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
from prefectwin.diagnosis.checks.windows import GOOD_POLICIES, effective_policy
from prefectwin.diagnosis.facts import Facts, ServiceFacts
from prefectwin.hosts import LOOPBACK_HOSTS, WILDCARD_HOSTS
from prefectwin.secrets import mask_url

NOT_A_SERVICE = "Only with -ServiceName: this check describes an installed service."
# Settings a worker service must get from one place: set twice, the environment wins and the
# .env value is dead text that misleads whoever reads it.
_WATCHED = ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_HOME", "PREFECT_SERVER_API_AUTH_STRING")


def _service(facts: Facts) -> Optional[ServiceFacts]:
    return facts.service


@check("service.working-directory")
def working_directory(facts: Facts):
    service = _service(facts)
    if service is None:
        return skipped(NOT_A_SERVICE)
    data = dict(path=service.working_directory, envFile=service.env_file, prefectToml=service.toml_file)
    fix = f"nssm set {service.name} AppDirectory <folder>, a folder only administrators and the service account can write (PREFECT_HOME is a good one)."
    if not service.working_directory:
        return fail(f"Service {service.name} has no working directory (AppDirectory).", fix, **data)
    if not service.working_directory_exists:
        return fail(f"The working directory {service.working_directory} of service {service.name} does not exist; the service cannot start.", fix, **data)
    read = [f for f in (service.env_file, service.toml_file) if f]
    if read:
        return passed(f"Working directory {service.working_directory}; Prefect also reads {' and '.join(read)} from it.", **data)
    return passed(f"Working directory {service.working_directory}; it holds no .env or prefect.toml.", **data)


@check("service.environment")
def environment(facts: Facts):
    service = _service(facts)
    if service is None:
        return skipped(NOT_A_SERVICE)
    data = dict(
        nssmEnvironment=list(service.nssm_environment_names),
        envFile=service.env_file,
        envFileNames=list(service.env_file_names),
        replacesEnvironment=service.replaces_environment,
    )
    if service.env_file_error:
        return fail(
            f"Prefect cannot read {service.env_file}: {service.env_file_error}.",
            "Make the file readable by the service account (or remove it), and save it as UTF-8.",
            **data,
        )
    if service.replaces_environment:
        return warn(
            f"Service {service.name} sets NSSM's AppEnvironment, which replaces the whole environment (SystemRoot, PATH, TEMP and the rest).",
            f"Move the variables to AppEnvironmentExtra: nssm reset {service.name} AppEnvironment, then nssm set {service.name} AppEnvironmentExtra KEY=VALUE ...",
            **data,
        )
    nssm_upper = {n.upper() for n in service.nssm_environment_names}
    both = [n for n in service.env_file_names if n.upper() in nssm_upper and n.upper() in _WATCHED]
    if both:
        return warn(
            f"{', '.join(both)} {'is' if len(both) == 1 else 'are'} set both in the service's NSSM environment and in {service.env_file}; the environment wins.",
            f"Keep one: remove {', '.join(both)} from {service.env_file}, or from the service (Install-PrefectService -Environment).",
            overridden=both,
            **data,
        )
    if "PREFECT_HOME" not in nssm_upper and "PREFECT_HOME" not in {n.upper() for n in service.env_file_names}:
        return warn(
            f"Service {service.name} does not set PREFECT_HOME: under {service.account} Prefect uses that account's profile folder.",
            f"Reinstall it with Install-PrefectService -PrefectHome, or nssm set {service.name} AppEnvironmentExtra PREFECT_HOME=<folder> (with the other variables).",
            **data,
        )
    sources = f"{len(service.nssm_environment_names)} NSSM variable(s)" + (f" and {len(service.env_file_names)} from {service.env_file}" if service.env_file else "")
    return passed(f"Service {service.name} runs with {sources}.", **data)


@check("service.secrets-file")
def secrets_file(facts: Facts):
    """The file PrefectWin keeps a service's secrets in: there, and readable by nobody but the
    service's account, SYSTEM and Administrators."""
    from prefectwin.services.secrets_file import FileAccess, access_problems

    from prefectwin.secrets import looks_secret

    service = _service(facts)
    if service is None:
        return skipped(NOT_A_SERVICE)
    exposed = [n for n in service.nssm_environment_names if n.upper().startswith("PREFECT_") and looks_secret(n)]
    data = dict(path=service.secrets_file, names=list(service.secrets_file_names), access=service.secrets_file_access, inRegistry=exposed)
    reinstall = f"Run Install-PrefectService for {service.name} again with the same parameters: it rewrites the file with the right access list."
    if exposed:
        return fail(
            f"Service {service.name} keeps {', '.join(exposed)} in its NSSM registry values (AppEnvironmentExtra), which local users can read.",
            f"Run Install-PrefectService for {service.name} again with the same parameters: it moves them into a secrets file only the service's account and Administrators can read, and clears them from the registry.",
            **data,
        )
    if not service.secrets_file:
        return skipped(f"Service {service.name} has no PrefectWin secrets file (no PREFECT_PROFILES_PATH to one in its NSSM environment).")
    if service.secrets_file_error:
        if service.secrets_file_error.startswith("PermissionDenied"):
            # As it should be for anyone but the account and Administrators: nothing to judge here.
            return warn(
                f"This session may not read the secrets file {service.secrets_file} of service {service.name}, nor its access list, so neither was checked.",
                "Run Test-PrefectEnvironment as administrator to check them.",
                **data,
            )
        return fail(f"The secrets file {service.secrets_file} of service {service.name} cannot be read: {service.secrets_file_error}.", "Run Test-PrefectEnvironment as administrator. " + reinstall, **data)
    if not service.secrets_file_exists or service.secrets_file_access is None:
        return fail(
            f"Service {service.name} reads its secrets from {service.secrets_file}, which does not exist: Prefect starts without them (a server on its default SQLite database, a worker without credentials).",
            reinstall,
            **data,
        )
    access = FileAccess.model_validate(service.secrets_file_access)
    problems = access_problems(access, service.account)
    if service.launcher_file:
        # The launcher runs as the service before Prefect: whoever may change it runs code as the account.
        if service.launcher_file_access is None:
            problems.append(f"its launcher {service.launcher_file} is missing or its access list cannot be read")
        else:
            problems += [f"launcher {service.launcher_file}: {p}" for p in access_problems(FileAccess.model_validate(service.launcher_file_access), service.account)]
    if problems:
        return fail(
            f"The secrets file {service.secrets_file} of service {service.name} is not protected: {'; '.join(problems)}.",
            reinstall,
            problems=problems,
            **data,
        )
    return passed(
        f"The secrets of service {service.name} ({', '.join(service.secrets_file_names) or 'none'}) are in {service.secrets_file}, which only {service.account}, SYSTEM and Administrators can read.",
        **data,
    )


@check("service.temp")
def temp(facts: Facts):
    service = _service(facts)
    if service is None:
        return skipped(NOT_A_SERVICE)
    data = dict(temp=service.temp_dir, account=service.account)
    account = service.account_facts
    if not service.temp_dir and facts.windows is None and (account is None or not account.sid):
        # Off Windows (no Windows account), Python's tempfile falls back to /tmp, not to the
        # working directory.
        return passed(f"Service {service.name} has no TEMP, TMP or TMPDIR variable; Python uses /tmp.", **data)
    if not service.temp_dir:
        return fail(
            f"Service {service.name} has no TEMP or TMP variable: Python and Prefect fall back to the working directory for temporary files.",
            f"Set TEMP for the service: nssm set {service.name} AppEnvironmentExtra TEMP=<folder> (with the other variables).",
            **data,
        )
    if not service.temp_exists:
        return fail(
            f"TEMP for service {service.name} is {service.temp_dir}, which does not exist.",
            f"Create {service.temp_dir} with Modify for {service.account}, or point TEMP elsewhere.",
            **data,
        )
    return passed(f"TEMP for service {service.name} ({service.account}) is {service.temp_dir}.", **data)


@check("service.path")
def path(facts: Facts):
    service = _service(facts)
    if service is None:
        return skipped(NOT_A_SERVICE)
    data = dict(entries=list(service.path_entries), mapped=list(service.path_mapped), missing=list(service.path_missing))
    if not service.path_entries:
        return fail(
            f"Service {service.name} has no PATH: flows that run other programs (git, pip, prefect) will not find them.",
            "Check the machine PATH (System Properties, Environment Variables) and NSSM's AppEnvironment.",
            **data,
        )
    if service.path_mapped:
        return warn(
            f"PATH of service {service.name} has entries on mapped drives, which services cannot see: {', '.join(service.path_mapped)}.",
            "Replace them with UNC paths in the machine PATH.",
            **data,
        )
    if service.path_missing:
        return warn(
            f"PATH of service {service.name} has {len(service.path_missing)} folder(s) that do not exist: {', '.join(service.path_missing)}.",
            "Remove them from the machine PATH, or create them.",
            **data,
        )
    return passed(f"PATH of service {service.name} has {len(service.path_entries)} folders, all present.", **data)


@check("service.execution-policy")
def execution_policy(facts: Facts):
    service = _service(facts)
    if service is None:
        return skipped(NOT_A_SERVICE)
    account = service.account_facts
    if facts.windows is None and (account is None or not account.sid):
        return skipped(f"Windows only; this machine runs {facts.os_name}.")
    if account is None or account.error:
        return warn(
            f"The execution policy for {service.account} could not be read: {account.error if account else 'no account facts'}.",
            "Run elevated, so the account's registry hive can be read.",
        )
    policy, scope = effective_policy(account.execution_policies)
    data = dict(account=service.account, effective=policy, scope=scope, scopes=account.execution_policies, hiveLoaded=account.hive_loaded)
    if not account.hive_loaded and scope not in ("MachinePolicy", "Process"):
        # UserPolicy and CurrentUser live in the account's own hive, which is not loaded.
        return warn(
            f"The registry hive of {service.account} is not loaded, so its own execution policy scopes are unknown; the machine's say {policy or 'nothing'}.",
            f"Start service {service.name} once (Windows loads the hive for it), then diagnose again.",
            **data,
        )
    if policy in GOOD_POLICIES:
        return passed(f"PowerShell scripts a flow of {service.name} starts run under {policy} (from {scope}) for {service.account}.", **data)
    shown = f"{policy} (from {scope})" if policy else "undefined (Restricted on Windows clients)"
    if scope in ("MachinePolicy", "UserPolicy"):
        fix = "The policy comes from Group Policy; ask your domain administrator for RemoteSigned."
    else:
        fix = f"Set-ExecutionPolicy -Scope LocalMachine RemoteSigned, or nssm set {service.name} AppEnvironmentExtra PSExecutionPolicyPreference=RemoteSigned (with the other variables)."
    return warn(f"For {service.account} the execution policy is {shown}: PowerShell scripts that flows of {service.name} start will not load.", fix, **data)


@check("service.home-access")
def home_access(facts: Facts):
    service = _service(facts)
    if service is None:
        return skipped(NOT_A_SERVICE)
    data = dict(home=service.home, driveKind=service.home_drive_kind, account=service.account)
    if not service.home:
        return skipped("The service's PREFECT_HOME is not known; see service.environment.")
    if service.home_drive_kind != "unc":
        return passed(f"PREFECT_HOME {service.home} is local to this computer; settings.home checks it.", **data)
    identity = service.account_facts.network_identity if service.account_facts else None
    data["networkIdentity"] = identity
    if service.home_access:
        return passed(f"{identity} (service account {service.account} on the network) may modify {service.home}.", **data)
    if service.home_access is None:
        return warn(
            f"Whether {service.account} may modify {service.home} could not be read: {service.home_access_error}.",
            "Check the share and NTFS permissions of the folder for the computer account (DOMAIN\\COMPUTER$) or the service's user.",
            **data,
        )
    who = identity or f"{service.account} (anonymous on the network)"
    fix = (
        f"Run the service as an account the share knows, e.g. a gMSA: Install-PrefectService -Name {service.name} -Account DOMAIN\\gmsa$."
        if identity is None
        else f"Grant {identity} Modify on {service.home}, on the share and in NTFS."
    )
    return fail(f"{who} may not modify PREFECT_HOME {service.home} on the share.", fix, reason=service.home_access_error, **data)


def _worker_peer(facts: Facts):
    service = _service(facts)
    if service is None:
        return None, skipped(NOT_A_SERVICE)
    if service.role != "Worker":
        return None, skipped(f"Service {service.name} is a server; diagnose its workers to compare them with it.")
    if service.server is None:
        return None, skipped(f"No server to compare with: {service.server_lookup}.")
    return service, None


def _endpoint(url: str) -> tuple[Optional[str], Optional[int]]:
    try:
        parts = urllib.parse.urlsplit(url)
        return (parts.hostname or "").lower() or None, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None, None


@check("service.api-url-match", "probe")
def api_url_match(facts: Facts):
    service, skip = _worker_peer(facts)
    if skip is not None:
        return skip
    server = service.server
    expected = server.api_url or f"http://{'127.0.0.1' if server.bind_host in WILDCARD_HOSTS else server.bind_host}:{server.port}/api"
    url = facts.prefect.api_url
    source = facts.prefect.source_of("PREFECT_API_URL")
    data = dict(server=server.name, serverBind=f"{server.bind_host}:{server.port}", apiUrl=mask_url(url), source=source, expected=expected)
    fix = f"Reinstall the worker with Install-PrefectService -Name {service.name} -ApiUrl {expected}"
    if source and source != "env":
        # Set anywhere but the service's environment, the value wins only until the environment sets one.
        fix += f", and remove PREFECT_API_URL from its {source}"
    fix += "."
    if not url:
        return fail(
            f"Worker {service.name} has no PREFECT_API_URL: it would start an ephemeral server of its own instead of using {server.name}.",
            fix,
            **data,
        )
    host, port = _endpoint(url)
    shown = mask_url(url)
    if source:
        shown += f" (from {source})"
    if port != server.port:
        return fail(f"Worker {service.name} talks to {shown}, but server {server.name} listens on port {server.port}.", fix, **data)
    bind = server.bind_host.lower()
    if bind in LOOPBACK_HOSTS and host not in LOOPBACK_HOSTS:
        return fail(
            f"Worker {service.name} talks to {shown}, but server {server.name} listens on {server.bind_host} only, which only this computer reaches as a loopback address.",
            fix,
            **data,
        )
    if bind not in WILDCARD_HOSTS and bind not in LOOPBACK_HOSTS and host != bind:
        return warn(
            f"Worker {service.name} talks to {shown}, and server {server.name} listens on {server.bind_host}: the host names differ.",
            f"If {host} is not {server.bind_host}, use {expected}.",
            **data,
        )
    return passed(f"Worker {service.name} talks to {shown}, where server {server.name} listens.", **data)


def _reinstall_worker(service: Any) -> str:
    args = list(service.arguments)
    pool = args[args.index("--pool") + 1] if "--pool" in args[:-1] else "<pool>"
    return (
        f"Install the worker again: Install-PrefectService -Name {service.name} -Role Worker -Pool {pool} (without -ApiUrl and -AuthCredential it takes "
        "the local server's string), or with -AuthCredential and the server's credential. A PREFECT_API_AUTH_STRING in a .env of its working folder "
        "wins over that: give it the value of the server's PREFECT_SERVER_API_AUTH_STRING, or remove it."
    )


@check("service.auth-match")
def auth_match(facts: Facts):
    service, skip = _worker_peer(facts)
    if skip is not None:
        return skip
    server = service.server
    data = dict(server=server.name, serverRequiresAuth=server.auth_string is not None, workerSendsAuth=service.auth_string is not None)
    if server.auth_string is None and service.auth_string is None:
        if server.bind_host.lower() in LOOPBACK_HOSTS:
            return passed(f"Neither server {server.name} (on loopback only) nor worker {service.name} uses an auth string.", **data)
        return warn(
            f"Server {server.name} listens on {server.bind_host} without PREFECT_SERVER_API_AUTH_STRING: anyone who reaches it can make its workers run code.",
            "Give the server PREFECT_SERVER_API_AUTH_STRING and its workers the same PREFECT_API_AUTH_STRING.",
            **data,
        )
    if service.auth_string is None:
        return fail(
            f"Server {server.name} requires an auth string (PREFECT_SERVER_API_AUTH_STRING) and worker {service.name} sends none: every API call fails with 401"
            " (was auth added to the server after the worker was installed?).",
            _reinstall_worker(service),
            **data,
        )
    if server.auth_string is None:
        return warn(
            f"Worker {service.name} sends PREFECT_API_AUTH_STRING, but server {server.name} requires none.",
            f"Set PREFECT_SERVER_API_AUTH_STRING on {server.name} (the server is open otherwise), or remove it from the worker.",
            **data,
        )
    import hmac

    same = hmac.compare_digest(server.auth_string.get_secret_value().encode(), service.auth_string.get_secret_value().encode())
    data["match"] = same
    if not same:
        return fail(
            f"Worker {service.name} sends a different auth string than server {server.name} expects: every API call fails with 401. "
            "The server's auth was changed after the worker was installed (Install-PrefectService -Role Server -AuthCredential rotates it, "
            "and carries the new string only to the workers that took the server's).",
            _reinstall_worker(service),
            **data,
        )
    return passed(f"Worker {service.name} sends the auth string server {server.name} expects.", **data)


@check("service.database-match", "probe")
def database_match(facts: Facts):
    service, skip = _worker_peer(facts)
    if skip is not None:
        return skip
    server = service.server
    server_url = server.database_url.get_secret_value() if server.database_url else None
    worker_url = facts.prefect.database_url.get_secret_value() if facts.prefect.database_url else None
    data = dict(server=server.name, serverDatabase=mask_url(server_url), serverDatabaseSource=server.database_source, workerDatabase=mask_url(worker_url))
    if not facts.prefect.api_url:
        return fail(
            f"Worker {service.name} has no API URL, so its runs would go to an ephemeral server's database ({mask_url(worker_url) or 'in its PREFECT_HOME'}), not to {server.name}'s.",
            "Fix service.api-url-match first.",
            **data,
        )
    if service.database_url_source and worker_url and server_url and worker_url != server_url:
        return warn(
            f"Worker {service.name} names a database ({mask_url(worker_url)}, from its {service.database_url_source}) that is not server {server.name}'s ({mask_url(server_url)}); workers reach the database only through the API, so this setting misleads.",
            f"Remove PREFECT_SERVER_DATABASE_CONNECTION_URL (and the legacy PREFECT_API_DATABASE_CONNECTION_URL) from {service.name}.",
            **data,
        )
    return passed(f"Worker {service.name} uses server {server.name}'s database ({mask_url(server_url) or 'its default'}) through the API.", **data)
