"""PrefectService: a server or worker service, installed as described AND running when
Present. Get is service.get; Test and Set plan and apply through service.install (with start)
and service.uninstall. The database and auth secret rules of a MOF live here."""
from __future__ import annotations

import urllib.parse
from typing import Any, Optional

from prefectwin.dsc import change
from prefectwin.dsc.instances import ServiceInstance
from prefectwin.errors import InvalidArgument, NotFound
from prefectwin.registry import Context

# Properties service.get reads back: (property, ServiceInfo field). The others (bindAddress,
# pythonPath, workerType, serviceDependency, the database ones) are judged by the plan alone.
READ_BACK = (("role", "role"), ("port", "port"), ("prefectHome", "prefect_home"), ("pool", "pool"), ("apiUrl", "api_url"), ("startupType", "start_type"))
# Property -> service.install parameter, where they differ.
PARAMETER_OF = {"serviceDependency": "dependsOn"}
# Properties whose 0 is a value (Install-PrefectService: 0 turns time rotation off, 0 days is no
# age limit), so unset cannot mean "the default": it means "not managed", and an installed
# service keeps what it has. How to read that back from its record.
KEPT_WHEN_UNSET = {
    "logRotateSeconds": lambda record: _int((record.parameters.get("AppRotateSeconds") or (None,))[0]),
    "logRetentionDays": lambda record: _int(((record.managed or {}).get("logRetention") or {}).get("days")),
}


def _int(value: Any) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
PASSED_ON = (
    "role",
    "port",
    "bindAddress",
    "prefectHome",
    "pythonPath",
    "pool",
    "workerType",
    "apiUrl",
    "startupType",
    "serviceDependency",
    "logRotateBytes",
    "logRotateSeconds",
    "logRetentionCount",
    "logRetentionDays",
    "account",
    "openFirewall",
    "allowFrom",
    "firewallProfile",
)


# The auth properties (auth_options): judged by the plan alone, like the database ones.
AUTH_PROPERTIES = ("authCredential", "authStringVariable", "allowAnonymous")


def _from_info(info: Any) -> ServiceInstance:
    return ServiceInstance(
        name=info.name,
        role=info.role,
        port=info.port,
        prefect_home=info.prefect_home,
        pool=info.pool,
        api_url=info.api_url,
        startup_type=info.start_type,
        status=info.status,
        health=info.health,
    )


def read(name: str, ctx: Context) -> ServiceInstance:
    from prefectwin.commands.service import ServiceGetParams, service_get

    try:
        return _from_info(service_get(ServiceGetParams(name=[name]), ctx)[0])
    except NotFound:
        return ServiceInstance(name=name, ensure="Absent")


def export(ctx: Context) -> list[ServiceInstance]:
    from prefectwin.commands.service import ServiceGetParams, service_get

    return [_from_info(info) for info in service_get(ServiceGetParams(), ctx)]


def _refuse(name: str, prop: str, problem: str) -> InvalidArgument:
    return InvalidArgument(
        f"PrefectService {name}: {problem}",
        target=f"properties.{prop}",
        remediation="Give the database password in DatabaseCredential (DSC encrypts it with the node's certificate), "
        "or the whole URL in a machine environment variable named by DatabaseUrlVariable (see about_PrefectWin, DSC).",
    )


def _database_url(wanted: ServiceInstance) -> Optional[str]:
    """DatabaseUrl without a password, or the URL the named machine variable holds."""
    from prefectwin.system import get_adapter

    url, variable = wanted.database_url, wanted.database_url_variable
    if url and variable:
        raise _refuse(wanted.name, "databaseUrlVariable", "DatabaseUrl and DatabaseUrlVariable are both set; give one of them.")
    if url:
        try:
            has_password = urllib.parse.urlsplit(url).password is not None
        except ValueError:
            has_password = False  # service.install says what is wrong with the URL
        if has_password:
            raise _refuse(wanted.name, "databaseUrl", "DatabaseUrl holds a password, which a MOF keeps in clear text.")
        return url
    if variable:
        held = get_adapter().get_environment_variable(variable, "Machine")
        if not held:
            raise _refuse(
                wanted.name, "databaseUrlVariable", f"DatabaseUrlVariable names the machine environment variable '{variable}', which is not set on this computer."
            )
        return held
    return None


def install_params(wanted: ServiceInstance, installed: Any = None) -> dict[str, Any]:
    """service.install's parameters: Present means installed and running, so start is always sent.
    `installed`: the service's record, if it exists (what an unmanaged property keeps)."""
    if wanted.role is None:
        raise InvalidArgument(
            f"PrefectService {wanted.name}: Role is required when Ensure is Present.",
            target="properties.role",
            remediation="Give Role = 'Server' or 'Worker'.",
        )
    given = wanted.model_dump(by_alias=True, exclude_none=True)
    params = {PARAMETER_OF.get(p, p): given[p] for p in PASSED_ON if p in given}
    if installed is not None and installed.managed is not None:
        for prop, held in KEPT_WHEN_UNSET.items():
            if prop not in given and held(installed) is not None:
                params[prop] = held(installed)
    if wanted.database_credential is not None:
        credential = wanted.database_credential
        params["databaseCredential"] = {"userName": credential.user_name, "password": credential.password.get_secret_value()}
    url = _database_url(wanted)
    if url is not None:
        params["databaseUrl"] = url
    params.update(auth_options(wanted))
    return {"name": wanted.name, "start": True, **params}


def _refuse_auth(name: str, prop: str, problem: str) -> InvalidArgument:
    return InvalidArgument(
        f"PrefectService {name}: {problem}",
        target=f"properties.{prop}",
        remediation="Give the auth string as AuthCredential (a PSCredential, which DSC encrypts in the MOF with the node's certificate; "
        "never PSDscAllowPlainTextPassword), or USER:PASSWORD in a machine environment variable named by AuthStringVariable (see README, DSC).",
    )


def auth_options(wanted: ServiceInstance) -> dict[str, Any]:
    """service.install's authCredential and allowAnonymous, from AuthCredential, or from the
    machine variable AuthStringVariable names (read on the node, at each Test and Set)."""
    from prefectwin.system import get_adapter

    params: dict[str, Any] = {}
    credential, variable = wanted.auth_credential, wanted.auth_string_variable
    if credential is not None and variable:
        raise _refuse_auth(wanted.name, "authStringVariable", "AuthCredential and AuthStringVariable are both set; give one of them.")
    if credential is not None:
        params["authCredential"] = {"userName": credential.user_name, "password": credential.password.get_secret_value()}
    elif variable:
        held = get_adapter().get_environment_variable(variable, "Machine")
        if not held:
            raise _refuse_auth(wanted.name, "authStringVariable", f"AuthStringVariable names the machine environment variable '{variable}', which is not set on this computer.")
        user, colon, password = held.partition(":")
        if not colon:
            raise _refuse_auth(wanted.name, "authStringVariable", f"The machine environment variable '{variable}' holds no USER:PASSWORD (there is no ':').")
        params["authCredential"] = {"userName": user, "password": password}
    if wanted.allow_anonymous:
        params["allowAnonymous"] = True
    return params


def refuse_inline_auth(properties: dict[str, Any]) -> None:
    """DSC v3: a configuration document is plain JSON or YAML, so an auth credential in it would
    be kept in clear text. Only the reference (AuthStringVariable) is taken there."""
    given = next((key for key, value in properties.items() if key.lower() == "authcredential" and value), None)
    if given is not None:
        raise _refuse_auth(
            str(next((v for k, v in properties.items() if k.lower() == "name"), "")),
            "authCredential",
            "DSC v3 takes the auth string by reference only: a configuration document keeps AuthCredential in clear text. Set AuthStringVariable instead.",
        )


def _plan(wanted: ServiceInstance, actual: ServiceInstance, ctx: Context, *, what_if: bool) -> list[Any]:
    if wanted.ensure == "Absent":
        if actual.ensure == "Absent":
            return []
        try:
            return change.run("service.uninstall", {"name": wanted.name}, ctx, what_if=what_if).actions
        except NotFound:
            return []
    from prefectwin.system import get_adapter

    installed = get_adapter().read_service(wanted.name) if actual.ensure == "Present" else None
    return change.run("service.install", install_params(wanted, installed), ctx, what_if=what_if).actions


def _same(prop: str, wanted: Any, actual: Any) -> bool:
    if isinstance(wanted, str) and isinstance(actual, str) and prop in ("prefectHome", "startupType", "apiUrl"):
        return wanted.rstrip("\\/").casefold() == actual.rstrip("\\/").casefold()
    return wanted == actual


def test(wanted: ServiceInstance, ctx: Context) -> tuple[ServiceInstance, list[str], list[Any]]:
    from prefectwin.system import get_adapter

    get_adapter().require_services()
    actual = read(wanted.name, ctx)
    actions = _plan(wanted, actual, ctx, what_if=True)
    differing: list[str] = []
    if actions:
        if wanted.ensure != actual.ensure:
            differing.append("ensure")
        elif wanted.ensure == "Present":
            desired, held = wanted.model_dump(by_alias=True), actual.model_dump(by_alias=True)
            differing += [p for p, _ in READ_BACK if desired[p] is not None and not _same(p, desired[p], held[p])]
            if actual.status != "Running":
                differing.append("status")
            if not differing:
                # What the plan changes is among what service.get cannot read back.
                given = wanted.model_dump(by_alias=True, exclude_none=True)
                differing += [p for p in (*PASSED_ON, "databaseUrl", "databaseCredential", "databaseUrlVariable", *AUTH_PROPERTIES) if p in given and p not in dict(READ_BACK)]
    return actual, differing, list(actions)


def apply(wanted: ServiceInstance, ctx: Context) -> tuple[ServiceInstance, list[Any]]:
    from prefectwin.system import get_adapter

    get_adapter().require_services()
    actions = _plan(wanted, read(wanted.name, ctx), ctx, what_if=False)
    return read(wanted.name, ctx), list(actions)
