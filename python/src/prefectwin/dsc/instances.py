"""The properties of each DSC resource: one pydantic model per resource, the same for the
PowerShell classes (PascalCase, as a configuration writes them) and DSC v3 (camelCase JSON).

A property name is matched without regard to case, because PowerShell's are case-insensitive
and the classes' names differ from the wire names only in the first letter's case. Read-only
properties (what Get reports) and DSC's own `_`-prefixed ones are accepted and ignored on
input. An empty value means "not given": a PowerShell class cannot hold $null in an [int] or
tell an unset [string] from an empty one.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from prefectwin.errors import InvalidArgument
from prefectwin.services.spec import SERVICE_NAME_PATTERN, Credential

Ensure = Literal["Present", "Absent"]
READ_ONLY = {"readOnly": True}


# [int] properties of a PowerShell class are 0 when not set, so 0 means "not given" for these
# (none of them takes 0). LogRotateSeconds and LogRetentionDays do take 0 (off, no age limit),
# so the class declares them [Nullable[int]] and their 0 is a value.
ZERO_IS_UNSET = frozenset({"port", "logRotateBytes", "logRetentionCount"})


class Instance(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True)

    @classmethod
    def _normalize(cls, data: dict[str, Any]) -> dict[str, Any]:
        names = {(field.alias or name).lower(): (field.alias or name, field) for name, field in cls.model_fields.items()}
        normalized: dict[str, Any] = {}
        for key, value in data.items():
            if key.startswith("_"):
                continue
            alias, field = names.get(key.lower(), (key, None))
            if field is not None and (field.json_schema_extra or {}).get("readOnly"):
                continue
            if value in ("", [], None) or (alias in ZERO_IS_UNSET and value == 0):
                continue
            normalized[alias] = value
        return normalized

    @classmethod
    def parse(cls, resource: str, properties: dict[str, Any]) -> "Instance":
        """Validated properties, or InvalidArgument naming the first bad property (never its value)."""
        try:
            return cls.model_validate(cls._normalize(properties))
        except ValidationError as exc:
            problems = []
            for err in exc.errors(include_input=False, include_url=False):
                where = ".".join(str(part) for part in err["loc"]) or "properties"
                problems.append((where, "is not a property of this resource" if err["type"] == "extra_forbidden" else err["msg"]))
            where, message = problems[0]
            prop = where.split(".")[0]
            known = ", ".join(sorted(pascal(f.alias or n) for n, f in cls.model_fields.items() if not (f.json_schema_extra or {}).get("readOnly")))
            raise InvalidArgument(
                f"{resource}: {pascal(prop)} {message}." + (f" ({len(problems) - 1} more problem(s).)" if len(problems) > 1 else ""),
                target=f"properties.{prop}",
                remediation=f"Properties of {resource}: {known}.",
            ) from None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


class SettingInstance(Instance):
    """One Prefect setting in one scope. Keyed by Name AND Scope, so one configuration can set
    the same setting in two scopes."""

    name: str = Field(min_length=1, description="Key: a PREFECT_* setting name; legacy aliases are accepted.")
    scope: Literal["Profile", "User", "Machine"] = Field(
        description="Key: where the value is kept, the active Prefect profile or a persistent User/Machine environment variable."
    )
    ensure: Ensure = Field("Present", description="Present: the scope holds Value; Absent: the scope holds no name of the setting.")
    value: Optional[str] = Field(None, description="The value, required when Ensure is Present; a secret one is read back masked.")
    python_path: Optional[str] = Field(None, description="The interpreter Prefect runs under; default: the backend's own.")
    source: Optional[str] = Field(None, description="Read only: where the effective value comes from.", json_schema_extra=READ_ONLY)

    @model_validator(mode="before")
    @classmethod
    def _no_process_scope(cls, data: Any) -> Any:
        # Runs before the base class's normalizing, so the names are still as given.
        given = {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else {}
        if str(given.get("scope", "")).lower() == "process":
            raise InvalidArgument(
                f"PrefectSetting {given.get('name')}: Scope Process would change only the environment of the DSC host process.",
                target="properties.scope",
                remediation="Use Scope Profile, User or Machine.",
            )
        return data


class ServiceInstance(Instance):
    """A Prefect server or worker as a Windows service, installed and running when Present.

    A database secret never sits in a property in clear text (a MOF keeps those): the password
    comes from DatabaseCredential, or the whole URL from the machine environment variable that
    DatabaseUrlVariable names. The same for the server's basic auth: AuthCredential (the
    PowerShell class only: DSC encrypts a PSCredential in the MOF with the node's certificate)
    or AuthStringVariable, the NAME of a machine environment variable holding USER:PASSWORD
    (the only way for DSC v3, whose documents encrypt nothing)."""

    name: str = Field(pattern=SERVICE_NAME_PATTERN, description="Key: the Windows service name.")
    ensure: Ensure = Field("Present", description="Present: installed, as described, and running; Absent: not installed.")
    role: Optional[Literal["Server", "Worker"]] = Field(None, description="Server or Worker; required when Ensure is Present.")
    port: Optional[int] = Field(None, description="Server only: the API port; default 4200.")
    bind_address: Optional[str] = Field(None, description="Server only: the address to listen on.")
    prefect_home: Optional[str] = Field(None, description="PREFECT_HOME and working directory.")
    python_path: Optional[str] = Field(None, description="The python.exe Prefect runs under.")
    pool: Optional[str] = Field(None, description="Worker only: the work pool.")
    worker_type: Optional[str] = Field(None, description="Worker only: the worker type.")
    api_url: Optional[str] = Field(None, description="Worker only: the server's API URL.")
    startup_type: Optional[str] = Field(None, description="Automatic (default), AutomaticDelayed or Manual.")
    service_dependency: Optional[list[str]] = Field(None, description="Windows services that must run first.")
    database_url: Optional[str] = Field(None, description="Server only: the database URL WITHOUT its password.")
    database_credential: Optional[Credential] = Field(None, description="Server only: the database user and password.")
    database_url_variable: Optional[str] = Field(None, description="Server only: the NAME of a machine environment variable holding the whole URL.")
    auth_credential: Optional[Credential] = Field(None, description="Basic auth USER:PASSWORD a server requires or a worker sends; PowerShell class (MOF encrypted with a certificate) only.")
    auth_string_variable: Optional[str] = Field(None, description="The NAME of a machine environment variable holding the auth string USER:PASSWORD.")
    allow_anonymous: Optional[bool] = Field(None, description="Server only: listen on a non-loopback BindAddress without authentication.")
    log_rotate_bytes: Optional[int] = Field(None, description="Rotate a log once it is this large; 0 or unset: 10 MiB.")
    log_rotate_seconds: Optional[int] = Field(None, description="At start, rotate a log older than this; 0: never; unset: not managed (a new service gets 1 day).")
    log_retention_count: Optional[int] = Field(None, description="Keep this many rotated copies per log; 0 or unset: 10.")
    log_retention_days: Optional[int] = Field(None, description="Delete rotated copies older than this; 0: no age limit; unset: not managed (a new service gets 30).")
    account: Optional[str] = Field(
        None, description="The account the service runs as; default its own virtual account NT SERVICE\\<name>. LocalSystem, LocalService, NetworkService or a gMSA (DOMAIN\\name$); not a user account, whose password a MOF would hold."
    )
    open_firewall: Optional[bool] = Field(None, description="Server only: add an inbound firewall rule for the port.")
    allow_from: Optional[list[str]] = Field(None, description="With OpenFirewall: the remote addresses, subnets, ranges or keywords the rule allows; default LocalSubnet.")
    firewall_profile: Optional[list[str]] = Field(None, description="With OpenFirewall: the profiles (Domain, Private, Public) the rule applies on; default Domain and Private.")
    status: Optional[str] = Field(None, description="Read only: the service's status.", json_schema_extra=READ_ONLY)
    health: Optional[str] = Field(None, description="Read only: the service's health.", json_schema_extra=READ_ONLY)

    @field_validator("database_credential", "auth_credential", mode="before")
    @classmethod
    def _credential(cls, value: Any) -> Any:
        # The PowerShell side sends {userName, password}; DSC v3 JSON may spell them in any case.
        if isinstance(value, dict):
            return {("userName" if k.lower() == "username" else k.lower()): v for k, v in value.items()}
        return value


MODELS: dict[str, type[Instance]] = {"PrefectService": ServiceInstance, "PrefectSetting": SettingInstance}
# The DSC v3 resource type of each (dsc/<name>.dsc.resource.json).
DSC_TYPES = {"PrefectWin/Service": "PrefectService", "PrefectWin/Setting": "PrefectSetting"}


def instance_schema(resource: str) -> dict[str, Any]:
    """The JSON schema of one resource's instances, as DSC v3 embeds it."""
    schema = MODELS[resource].model_json_schema(by_alias=True)
    schema["properties"]["_inDesiredState"] = {"$ref": "https://raw.githubusercontent.com/PowerShell/DSC/main/schemas/v3/resource/properties/inDesiredState.json"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
