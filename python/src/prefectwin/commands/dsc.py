"""`dsc.*`: the DSC resources PrefectService and PrefectSetting, on read state, plan and apply.

- `dsc.get`     the instance's current state (GetCurrentState)
- `dsc.test`    is the plan empty? inDesiredState, the differing properties, the plan (Compare)
- `dsc.set`     apply the plan, then the state after (Modify)
- `dsc.export`  every instance present on this machine
- `dsc.schema`  the JSON schema of a resource's instances (the DSC v3 manifests embed it)

The PowerShell classes (PrefectWin.psm1) and the DSC v3 manifests (dsc/*.dsc.resource.json,
through `prefectwin dsc <operation>`) are both shims over these. Every rule about the
properties (names, validation, the database secret of a MOF) is in prefectwin.dsc.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from prefectwin.models import Params, Result
from prefectwin.registry import Context, command

Resource = Literal["PrefectService", "PrefectSetting"]


class DscParams(Params):
    resource: Resource = Field(description="The DSC resource: PrefectService or PrefectSetting.")
    properties: dict[str, Any] = Field(
        default_factory=dict, description="The instance's properties (names in any case; see dsc.schema); export reads only pythonPath."
    )


class DscSchemaParams(Params):
    resource: Resource = Field(description="The DSC resource: PrefectService or PrefectSetting.")


class DscState(Result):
    resource: str
    properties: dict[str, Any]


class DscAction(Result):
    """One step of the plan behind Test and Set: its kind and description, nothing more."""

    kind: str
    description: str


class DscTest(DscState):
    in_desired_state: bool
    differing_properties: list[str]
    actions: list[DscAction]


class DscSet(DscState):
    changed: bool
    actions: list[DscAction]


def _actions(planned: list[Any]) -> list[DscAction]:
    return [DscAction(kind=a.kind, description=a.description) for a in planned]


def _parse(params: DscParams) -> Any:
    from prefectwin.dsc.instances import MODELS

    return MODELS[params.resource].parse(params.resource, params.properties)


def _family(resource: str) -> Any:
    if resource == "PrefectService":
        from prefectwin.dsc import service

        return service
    from prefectwin.dsc import setting

    return setting


@command("dsc.get", params=DscParams, result=DscState)
def dsc_get(params: DscParams, ctx: Context) -> DscState:
    """The current state of one DSC resource instance."""
    wanted = _parse(params)
    if params.resource == "PrefectService":
        from prefectwin.dsc.service import read

        actual = read(wanted.name, ctx)
    else:
        from prefectwin.dsc.setting import read

        actual = read(wanted)[0]
    return DscState(resource=params.resource, properties=actual.wire())


@command("dsc.test", params=DscParams, result=DscTest)
def dsc_test(params: DscParams, ctx: Context) -> DscTest:
    """Whether a DSC resource instance is in the desired state: its plan is empty."""
    actual, differing, actions = _family(params.resource).test(_parse(params), ctx)
    for action in actions:
        ctx.events.verbose(f"Not in the desired state: {action.description}")
    return DscTest(
        resource=params.resource, properties=actual.wire(), in_desired_state=not actions, differing_properties=differing, actions=_actions(actions)
    )


@command("dsc.set", params=DscParams, result=DscSet, changes_state=True)
def dsc_set(params: DscParams, ctx: Context) -> DscSet:
    """Bring a DSC resource instance to the desired state (with whatIf: its plan, changing nothing)."""
    family = _family(params.resource)
    wanted = _parse(params)
    if ctx.what_if:
        actual, _, actions = family.test(wanted, ctx)
        for action in actions:
            ctx.events.verbose(f"Would change: {action.description}")
        return DscSet(resource=params.resource, properties=actual.wire(), changed=False, actions=_actions(actions))
    actual, actions = family.apply(wanted, ctx)
    for action in actions:
        ctx.events.verbose(f"Changed: {action.description}")
    return DscSet(resource=params.resource, properties=actual.wire(), changed=bool(actions), actions=_actions(actions))


@command("dsc.export", params=DscParams, result=list[DscState])
def dsc_export(params: DscParams, ctx: Context) -> list[DscState]:
    """Every instance of a DSC resource present on this machine."""
    if params.resource == "PrefectService":
        from prefectwin.dsc.service import export

        found = export(ctx)
    else:
        from prefectwin.dsc.setting import export

        python_path = next((v for k, v in params.properties.items() if k.lower() == "pythonpath" and v), None)
        found = export(python_path)
    return [DscState(resource=params.resource, properties=instance.wire()) for instance in found]


@command("dsc.schema", params=DscSchemaParams, result=dict[str, Any])
def dsc_schema(params: DscSchemaParams, ctx: Context) -> dict[str, Any]:
    """The JSON schema of a DSC resource's instances."""
    from prefectwin.dsc.instances import instance_schema

    return instance_schema(params.resource)
