"""Static checks of the PowerShell side, since this machine has no PowerShell.

Every *.ps1, *.psm1 and *.psd1 in the repository (outside .venv and out/) is parsed with
tree-sitter-powershell (see pwsh_static.py). The second half of this file feeds each rule a
small bad snippet: a check that cannot fail proves nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pwsh_static as ps  # noqa: E402

# A parameter that exists only on the PowerShell side (no field in the command's params model).
# Every entry needs its reason, e.g. {"Install-PrefectService": {"Credential": "split into
# account/password fields before the request"}}.
POWERSHELL_ONLY_PARAMETERS: dict[str, dict[str, str]] = {
    "Install-PrefectService": {
        "DatabaseCredential": "a [PSCredential]; sent as the object {userName, password} of its params field, inside the request on stdin",
        "Credential": "a [PSCredential]; sent as the object {userName, password} of its params field, inside the request on stdin",
    },
}

# A params-model field that the cmdlet deliberately does not expose, with the reason.
BACKEND_ONLY_FIELDS: dict[str, dict[str, str]] = {}

ALL_FILES = ps.repo_files(*ps.POWERSHELL_SUFFIXES)
MODULE_FILES = [
    path
    for path in ALL_FILES
    if ps.relative(path) == ps.ROOT_MODULE or ps.relative(path).startswith(("Public/", "Private/"))
]
PUBLIC_FILES = sorted((ps.REPO / "Public").glob("*.ps1"))
PRIVATE_FILES = sorted((ps.REPO / "Private").glob("*.ps1"))
ABOUT_HELP = ps.REPO / "en-US" / "about_PrefectWin.help.txt"
EXAMPLE_FILES = sorted((ps.REPO / "examples").glob("*.ps1"))
# The cmdlets that manage the session's process instead of sending a backend command; the
# static rules for them are check_session_cmdlet's (the schema rule has nothing to compare).
SESSION_CMDLETS = {"Start-PrefectSession", "Stop-PrefectSession", "Get-PrefectSession"}


def _ids(path: Path) -> str:
    return ps.relative(path)


def _assert_clean(violations: list[ps.Violation]) -> None:
    assert not violations, "\n".join(str(violation) for violation in violations)


@pytest.fixture(scope="session")
def schema():
    return ps.backend_schema()


@pytest.fixture(scope="session")
def exported() -> set[str]:
    data = ps.manifest_data(ps.load(ps.REPO / ps.MANIFEST))
    value = data.get("FunctionsToExport", [])
    return set(value if isinstance(value, list) else [value])


# ------------------------------------------------------------------------------------------
# The repository
# ------------------------------------------------------------------------------------------
def test_the_module_files_are_there() -> None:
    for name in (ps.MANIFEST, ps.ROOT_MODULE, ps.FORMAT_FILE, ps.BRIDGE, "build.ps1", "PSScriptAnalyzerSettings.psd1"):
        assert (ps.REPO / name).is_file(), name
    assert PUBLIC_FILES, "Public/ has no cmdlets"


@pytest.mark.parametrize("path", ALL_FILES, ids=_ids)
def test_parses_without_errors(path: Path) -> None:
    _assert_clean(ps.check_syntax(ps.load(path)))


@pytest.mark.parametrize("path", ALL_FILES + [ps.REPO / ps.FORMAT_FILE, ABOUT_HELP], ids=_ids)
def test_ascii_only(path: Path) -> None:
    _assert_clean(ps.check_ascii(ps.relative(path), path.read_bytes()))


@pytest.mark.parametrize("path", ALL_FILES, ids=_ids)
def test_house_style(path: Path) -> None:
    source = ps.load(path)
    _assert_clean(
        ps.check_layout(source)
        + ps.check_no_write_host(source)
        + ps.check_no_aliases(source)
        + ps.check_ps51_syntax(source)
        + ps.check_string_variables(source)
        + ps.check_parameter_shadowing(source)
    )


# The module's code (root module, Public/, Private/). build.ps1 and the tests are tooling that
# must run python, pytest and fake interpreters; they are held to the other rules only.
@pytest.mark.parametrize("path", MODULE_FILES, ids=_ids)
def test_only_the_bridge_starts_processes(path: Path) -> None:
    if ps.relative(path) == ps.BRIDGE:
        pytest.skip("the bridge is the one place that starts a process")
    source = ps.load(path)
    _assert_clean(ps.check_no_process_start(source, allow_dot_source=ps.relative(path) == ps.ROOT_MODULE))


def test_the_bridge_really_starts_the_backend() -> None:
    """The exemption above is for ProcessStartInfo with a constant argument list, nothing else:
    'rpc' or 'serve', started in the module's folder (never the user's location, whose stray
    pydantic.py or prefectwin/ would shadow the backend), with the location sent as cwd."""
    source = ps.load(ps.REPO / ps.BRIDGE)
    text = source.text
    assert "System.Diagnostics.ProcessStartInfo" in text
    assert text.count("New-Object -TypeName System.Diagnostics.ProcessStartInfo") == 1, "one process start"
    assert "'-X', 'utf8', '-m', 'prefectwin', $Mode" in text
    assert "[ValidateSet('rpc', 'serve')]" in text
    assert "$startInfo.WorkingDirectory = $script:PrefectWinModuleRoot" in text
    assert "CurrentFileSystemLocation" in text and "$request['cwd'] = $Location" in text
    assert "UseShellExecute = $false" in text
    (process_start,) = [f for f in ps.functions(source) if f.name == "New-PrefectBackendProcess"]
    assert [p.validate_set for p in process_start.parameters if p.name == "Mode"] == [["rpc", "serve"]]
    assert [v for v in ps.check_no_process_start(source) if "Start-Process" in v.message or "Invoke-Expression" in v.message] == []
    commands = [name for _, name, invoked in ps._commands(source) if invoked]
    assert commands == [], f"the bridge starts the backend through ProcessStartInfo only, not {commands}"


@pytest.mark.parametrize("path", PUBLIC_FILES, ids=_ids)
def test_public_function_shape(path: Path, exported: set[str]) -> None:
    _assert_clean(ps.check_public_file(ps.load(path), path.stem, exported))


@pytest.mark.parametrize("path", PUBLIC_FILES, ids=_ids)
def test_public_parameters_match_the_backend_schema(path: Path, schema) -> None:
    _assert_clean(ps.check_against_schema(ps.load(path), schema, POWERSHELL_ONLY_PARAMETERS, BACKEND_ONLY_FIELDS))


@pytest.mark.parametrize("path", PRIVATE_FILES, ids=_ids)
def test_private_functions_are_advanced_and_described(path: Path) -> None:
    found = []
    for function in ps.functions(ps.load(path)):
        where = f"{ps.relative(path)}:{function.line}"
        if function.cmdlet_binding is None:
            found.append(ps.Violation("private", where, f"{function.name} has no [CmdletBinding()]"))
        if function.help is None or not function.help.get("SYNOPSIS"):
            found.append(ps.Violation("private", where, f"{function.name} has no .SYNOPSIS"))
        if function.name.partition("-")[0] not in ps.APPROVED_VERBS:
            found.append(ps.Violation("private", where, f"{function.name} does not use an approved verb"))
    _assert_clean(found)


def test_manifest(exported: set[str]) -> None:
    source = ps.load(ps.REPO / ps.MANIFEST)
    _assert_clean(ps.check_manifest(source, {path.stem for path in PUBLIC_FILES}))


def test_allow_lists_name_real_cmdlets_and_give_reasons() -> None:
    public = {path.stem for path in PUBLIC_FILES}
    for table in (POWERSHELL_ONLY_PARAMETERS, BACKEND_ONLY_FIELDS):
        for cmdlet, entries in table.items():
            assert cmdlet in public, cmdlet
            assert all(reason.strip() for reason in entries.values()), f"{cmdlet}: every entry needs a reason"


def test_format_file_views_match_result_models(schema) -> None:
    path = ps.REPO / ps.FORMAT_FILE
    producers = ps.type_producers([ps.load(public) for public in PUBLIC_FILES])
    _assert_clean(ps.check_format_file(ps.relative(path), path.read_text(encoding="utf-8"), schema, producers))
    views = path.read_text(encoding="utf-8")
    for type_name in producers:
        assert f"<TypeName>PrefectWin.{type_name}</TypeName>" in views, f"PrefectWin.{type_name} has no default view"


# ------------------------------------------------------------------------------------------
# Every rule can fail
# ------------------------------------------------------------------------------------------
GOOD_PUBLIC = '''function Get-PrefectThing {
    <#
    .SYNOPSIS
    Gets the thing.
    .DESCRIPTION
    Gets the thing from the backend.
    .PARAMETER Name
    The name.
    .PARAMETER Mode
    The mode.
    .EXAMPLE
    Get-PrefectThing -Name a
    .EXAMPLE
    Get-PrefectThing -Name a -Mode Fast
    .OUTPUTS
    PrefectWin.Thing
    #>
    [CmdletBinding()]
    [OutputType('PrefectWin.Thing')]
    param(
        [Parameter(Mandatory = $true)]
        [string] $Name,

        [Parameter()]
        [ValidateSet('Fast', 'Slow')]
        [string] $Mode = 'Fast'
    )
    Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'thing.get' -Parameters @{ name = $Name } |
        ConvertTo-PrefectObject -TypeName 'Thing'
}
'''

FAKE_SCHEMA = {
    "commands": {
        "thing.get": {
            "changesState": False,
            "params": {
                "properties": {
                    "name": {"type": "string"},
                    "mode": {"default": "Fast", "enum": ["Fast", "Slow"], "type": "string"},
                },
                "required": ["name"],
            },
            "result": {"title": "Thing", "properties": {"name": {}, "mode": {}}},
        },
        "thing.set": {
            "changesState": True,
            "params": {"properties": {"name": {"type": "string"}}, "required": ["name"]},
            "result": {},
        },
    }
}


def _rules(violations: list[ps.Violation]) -> list[str]:
    return [str(violation) for violation in violations]


def test_the_good_example_passes_every_rule() -> None:
    source = ps.parse(GOOD_PUBLIC, "Public/Get-PrefectThing.ps1")
    assert ps.check_syntax(source) == []
    assert ps.check_layout(source) == []
    assert ps.check_no_process_start(source) == []
    assert _rules(ps.check_public_file(source, "Get-PrefectThing", {"Get-PrefectThing"})) == []
    assert _rules(ps.check_against_schema(source, FAKE_SCHEMA, {}, {})) == []


def test_syntax_rule_reports_file_and_line() -> None:
    found = ps.check_syntax(ps.parse("function Test-It {\n    if ($x {\n    }\n}\n", "bad.ps1"))
    assert found and all(v.location.startswith("bad.ps1:") for v in found)
    assert ps.check_syntax(ps.parse("$a = $b ? 1 : 2\n", "ternary.ps1")), "PS 7 ternaries do not parse"


DSC_SNIPPET = "# header\n[DscResource()]\nclass PrefectThing {\n    [DscProperty(Key)] [string] $Name\n}\n"


def test_syntax_rule_reports_the_known_dsc_grammar_gap_with_its_line() -> None:
    found = ps.check_syntax(ps.parse_raw(DSC_SNIPPET, "PrefectWin.Dsc.psm1"))
    assert found, "if this passes, the grammar learned [DscResource()]: drop the blanking from pwsh_static.parse"
    assert found[0].location.startswith("PrefectWin.Dsc.psm1:")


def test_parse_blanks_exactly_a_lone_dsc_resource_attribute() -> None:
    source = ps.parse(DSC_SNIPPET, "x.psm1")
    assert ps.check_syntax(source) == [] and source.dsc_resource_lines == (1,)
    assert source.data.decode().splitlines()[1] == " " * len("[DscResource()]"), "same length: positions stay"
    assert source.lines[1] == "[DscResource()]", "layout rules see the file as it is"
    assert ps.check_layout(source) == []
    for other in ("[DscResource(RunAsCredential = 'Optional')]", "[DscResource()] class PrefectThing {"):
        text = DSC_SNIPPET.replace("[DscResource()]\nclass PrefectThing {", other if other.endswith("{") else other + "\nclass PrefectThing {")
        assert ps.check_syntax(ps.parse(text)), f"{other!r} is not blanked, so the grammar still refuses it"


def test_syntax_rule_reports_stacked_attributes_on_a_class_property() -> None:
    """The other DSC gap: no blanking for it; a DSC property gets one attribute and a type."""
    stacked = "class PrefectThing {\n    [DscProperty(Mandatory)]\n    [ValidateSet('a', 'b')]\n    [string] $Role\n}\n"
    assert ps.check_syntax(ps.parse(stacked)), "the grammar learned stacked attributes: update pwsh_static's docstring"


@pytest.mark.parametrize("snippet", ["Mock -CommandName Get-Thing -MockWith { }\n", "Format-Table -Property Name, Status\n"])
def test_syntax_rule_reports_the_other_known_grammar_gaps(snippet: str) -> None:
    """Valid PowerShell the grammar cannot parse (see pwsh_static's docstring for the workaround)."""
    assert ps.check_syntax(ps.parse(snippet, "gap.ps1")), "the grammar learned this: update pwsh_static's docstring"


def test_ascii_rule() -> None:
    assert ps.check_ascii("bad.ps1", "Write-Output 'caf\u00e9'\n".encode("utf-8"))
    assert ps.check_ascii("bom.ps1", b"\xef\xbb\xbfWrite-Output 'x'\n"), "a BOM is not ASCII"


def test_layout_rule() -> None:
    assert ps.check_layout(ps.parse("function Test-It {\n\tWrite-Output 1\n}\n"))
    assert ps.check_layout(ps.parse("function Test-It {\n  Write-Output 1\n}\n"))
    assert ps.check_layout(ps.parse("function Test-It\n{\n    Write-Output 1\n}\n"))
    assert ps.check_layout(ps.parse("Write-Output 1   \n"))
    here_string = "$x = @'\n  keeps   \n'@\n"
    assert ps.check_layout(ps.parse(here_string)) == [], "here-string content is data"


def test_write_host_rule() -> None:
    assert ps.check_no_write_host(ps.parse("Write-Host 'hello'\n"))
    assert ps.check_no_write_host(ps.parse("[Console]::WriteLine('hello')\n"))


@pytest.mark.parametrize("alias", ["?", "%", "select", "where", "foreach", "gci", "ls", "cat", "iex"])
def test_alias_rule(alias: str) -> None:
    assert ps.check_no_aliases(ps.parse(f"Get-Item -Path . | {alias} {{ $_ }}\n"))


def test_ps51_rule() -> None:
    assert ps.check_ps51_syntax(ps.parse("Test-One && Test-Two\n"))


def test_string_variable_rule() -> None:
    assert ps.check_string_variables(ps.parse('Write-Verbose -Message "Skipping $path: not found"\n'))
    assert ps.check_string_variables(ps.parse('Write-Verbose -Message "at $path:line"\n'))
    assert ps.check_string_variables(ps.parse('Write-Verbose -Message "${path}: $env:TEMP $script:x"\n')) == []


def test_parameter_shadowing_rule() -> None:
    function = "function Install-It {{\n    [CmdletBinding()]\n    param([string] $Bootstrap)\n    {body}\n}}\n"
    assert ps.check_parameter_shadowing(ps.parse(function.format(body="$bootstrap = @('py', '-3')")))
    assert ps.check_parameter_shadowing(ps.parse(function.format(body="foreach ($bootstrap in @(1)) { $bootstrap }")))
    assert ps.check_parameter_shadowing(ps.parse(function.format(body="$Bootstrap = $Bootstrap.Trim()"))) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "Start-Process -FilePath nssm.exe\n",
        "$null = [System.Diagnostics.Process]::Start('python.exe')\n",
        "$info = New-Object -TypeName System.Diagnostics.ProcessStartInfo\n",
        "$info = [Diagnostics.ProcessStartInfo]::new()\n",
        "& python -m prefectwin rpc\n",
        "& $python -m prefectwin rpc\n",
        "python -m prefectwin rpc\n",
        "nssm.exe install PrefectServer\n",
        "Invoke-Expression $command\n",
        "$shell = New-Object -ComObject 'WScript.Shell'\n",
    ],
)
def test_process_rule(snippet: str) -> None:
    assert ps.check_no_process_start(ps.parse(snippet, "Private/Bad.ps1")), snippet


def test_process_rule_allows_dot_sourcing_only_where_asked() -> None:
    snippet = "foreach ($file in $files) {\n    . $file.FullName\n}\n"
    assert ps.check_no_process_start(ps.parse(snippet), allow_dot_source=True) == []
    assert ps.check_no_process_start(ps.parse(snippet), allow_dot_source=False)


def _public_problems(snippet: str, stem: str = "Get-PrefectThing", exported=("Get-PrefectThing",)) -> str:
    return "\n".join(_rules(ps.check_public_file(ps.parse(snippet, f"Public/{stem}.ps1"), stem, set(exported))))


def test_public_rule_wants_one_function_named_like_the_file() -> None:
    assert "exactly one" in _public_problems(GOOD_PUBLIC + "\nfunction Get-PrefectOther {\n}\n")
    assert "name them alike" in _public_problems(GOOD_PUBLIC, stem="Get-PrefectThingy", exported=("Get-PrefectThingy",))
    assert "FunctionsToExport" in _public_problems(GOOD_PUBLIC, exported=())
    assert "outside the function" in _public_problems("$script:x = 1\n" + GOOD_PUBLIC)


def test_public_rule_wants_approved_verbs_and_singular_nouns() -> None:
    renamed = GOOD_PUBLIC.replace("Get-PrefectThing", "Fetch-PrefectThings")
    problems = _public_problems(renamed, stem="Fetch-PrefectThings", exported=("Fetch-PrefectThings",))
    assert "approved verb" in problems and "plural" in problems


def test_public_rule_wants_cmdletbinding_and_outputtype() -> None:
    assert "CmdletBinding" in _public_problems(GOOD_PUBLIC.replace("    [CmdletBinding()]\n", ""))
    assert "OutputType" in _public_problems(GOOD_PUBLIC.replace("    [OutputType('PrefectWin.Thing')]\n", ""))
    assert "returns PrefectWin.Other" in _public_problems(GOOD_PUBLIC.replace("-TypeName 'Thing'", "-TypeName 'Other'"))


def test_public_rule_wants_complete_help() -> None:
    without_help = GOOD_PUBLIC[: GOOD_PUBLIC.index("    <#")] + GOOD_PUBLIC[GOOD_PUBLIC.index("#>") + 3 :]
    assert "no comment-based help" in _public_problems(without_help)
    assert ".SYNOPSIS" in _public_problems(GOOD_PUBLIC.replace("    .SYNOPSIS\n    Gets the thing.\n", ""))
    assert ".DESCRIPTION" in _public_problems(GOOD_PUBLIC.replace("    .DESCRIPTION\n    Gets the thing from the backend.\n", ""))
    assert "1 .EXAMPLE" in _public_problems(GOOD_PUBLIC.replace("    .EXAMPLE\n    Get-PrefectThing -Name a -Mode Fast\n", ""))
    assert ".PARAMETER Mode" in _public_problems(GOOD_PUBLIC.replace("    .PARAMETER Mode\n    The mode.\n", ""))
    assert "does not exist" in _public_problems(GOOD_PUBLIC.replace(".PARAMETER Mode", ".PARAMETER Speed"))
    assert ".OUTPUTS" in _public_problems(GOOD_PUBLIC.replace("    .OUTPUTS\n    PrefectWin.Thing\n", ""))


def test_public_rule_wants_one_literal_backend_command_and_a_short_body() -> None:
    assert "never calls" in _public_problems(GOOD_PUBLIC.replace("Invoke-PrefectBackend", "Get-Something"))
    assert "string literal" in _public_problems(GOOD_PUBLIC.replace("'thing.get'", "$name"))
    long_body = GOOD_PUBLIC.replace("    Invoke-PrefectBackend", "    $x = 1\n" * 40 + "    Invoke-PrefectBackend")
    assert "lines of code" in _public_problems(long_body)


def _schema_problems(snippet: str, schema=FAKE_SCHEMA, powershell_only=None, backend_only=None) -> str:
    source = ps.parse(snippet, "Public/Get-PrefectThing.ps1")
    return "\n".join(_rules(ps.check_against_schema(source, schema, powershell_only or {}, backend_only or {})))


def test_schema_rule_wants_parameters_to_be_the_params_model() -> None:
    extra = GOOD_PUBLIC.replace("        [string] $Name,", "        [string] $Name,\n\n        [Parameter()]\n        [switch] $Force,")
    assert "-Force has no 'force'" in _schema_problems(extra)
    assert _schema_problems(extra, powershell_only={"Get-PrefectThing": {"Force": "PowerShell-only"}}) == ""
    missing = ps.parse(GOOD_PUBLIC, "x")
    assert missing  # (parsed)
    schema = {"commands": {"thing.get": dict(FAKE_SCHEMA["commands"]["thing.get"])}}
    schema["commands"]["thing.get"]["params"] = {
        "properties": {**FAKE_SCHEMA["commands"]["thing.get"]["params"]["properties"], "timeout": {"type": "integer"}},
        "required": ["name"],
    }
    assert "'timeout' has no -Timeout" in _schema_problems(GOOD_PUBLIC, schema=schema)
    assert _schema_problems(GOOD_PUBLIC, schema=schema, backend_only={"Get-PrefectThing": {"timeout": "internal"}}) == ""


def test_schema_rule_wants_validation_types_and_defaults_to_match() -> None:
    assert "ValidateSet" in _schema_problems(GOOD_PUBLIC.replace("'Fast', 'Slow'", "'Fast', 'Slow', 'Warp'"))
    assert "ValidateSet" in _schema_problems(GOOD_PUBLIC.replace("        [ValidateSet('Fast', 'Slow')]\n", ""))
    assert "schema says" in _schema_problems(GOOD_PUBLIC.replace("[string] $Name", "[int] $Name"))
    assert "defaults to 'Slow'" in _schema_problems(GOOD_PUBLIC.replace("$Mode = 'Fast'", "$Mode = 'Slow'"))
    assert "Mandatory" in _schema_problems(GOOD_PUBLIC.replace("[Parameter(Mandatory = $true)]", "[Parameter()]"))
    ranged = {"commands": {"thing.get": dict(FAKE_SCHEMA["commands"]["thing.get"])}}
    ranged["commands"]["thing.get"]["params"] = {
        "properties": {
            "name": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 65535}, {"type": "null"}]},
            "mode": FAKE_SCHEMA["commands"]["thing.get"]["params"]["properties"]["mode"],
        },
        "required": ["name"],
    }
    as_port = GOOD_PUBLIC.replace("[string] $Name", "[int] $Name")
    assert "ValidateRange(1, 65535)" in _schema_problems(as_port, schema=ranged)
    assert "differs" in _schema_problems(as_port.replace("[int] $Name", "[ValidateRange(1, 100)]\n        [int] $Name"), schema=ranged)
    assert _schema_problems(as_port.replace("[int] $Name", "[ValidateRange(1, 65535)]\n        [int] $Name"), schema=ranged) == ""


def test_schema_rule_wants_shouldprocess_exactly_for_state_changes() -> None:
    mode = ",\n\n        [Parameter()]\n        [ValidateSet('Fast', 'Slow')]\n        [string] $Mode = 'Fast'\n"
    assert mode in GOOD_PUBLIC
    setter = GOOD_PUBLIC.replace("'thing.get'", "'thing.set'").replace(mode, "\n").replace(".PARAMETER Mode\n    The mode.\n", "")
    problems = _schema_problems(setter)
    assert "SupportsShouldProcess" in problems and "Invoke-PrefectPlan" in problems
    planned = setter.replace("[CmdletBinding()]", "[CmdletBinding(SupportsShouldProcess = $true)]").replace(
        "Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'thing.set'", "Invoke-PrefectPlan -Cmdlet $PSCmdlet -Command 'thing.set' -Target $Name"
    )
    assert _schema_problems(planned) == ""
    assert "changes nothing" in _schema_problems(GOOD_PUBLIC.replace("[CmdletBinding()]", "[CmdletBinding(SupportsShouldProcess)]"))
    assert "does not have" in _schema_problems(GOOD_PUBLIC.replace("'thing.get'", "'thing.nope'"))


MANIFEST_TEMPLATE = """@{{
    RootModule = 'PrefectWin.psm1'
    ModuleVersion = '0.1.0'
    GUID = '15b674c0-b7c3-43a9-8966-03f1bb98cda9'
    PowerShellVersion = '{version}'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess = @('PrefectWin.Format.ps1xml')
    FunctionsToExport = {functions}
    CmdletsToExport = @()
    AliasesToExport = @()
    VariablesToExport = {variables}
}}
"""


def _manifest(version="5.1", functions="@(\n        'Get-PrefectThing'\n        'Test-PrefectThing'\n    )", variables="@()") -> ps.Source:
    return ps.parse(MANIFEST_TEMPLATE.format(version=version, functions=functions, variables=variables), "PrefectWin.psd1")


def test_manifest_rule() -> None:
    public = {"Get-PrefectThing", "Test-PrefectThing"}
    assert ps.check_manifest(_manifest(), public) == []
    assert ps.check_manifest(_manifest(version="7.2"), public)
    assert ps.check_manifest(_manifest(functions="'*'"), public)
    assert ps.check_manifest(_manifest(variables="'*'"), public)
    assert ps.check_manifest(_manifest(), public | {"Set-PrefectThing"})
    assert ps.check_manifest(_manifest(functions="@('Get-PrefectThing', 'Test-PrefectThing')"), public), "one per line"
    assert ps.check_manifest(_manifest(functions="@(\n        'Test-PrefectThing'\n        'Get-PrefectThing'\n    )"), public), "sorted"


def test_format_rule() -> None:
    view = "<Configuration><ViewDefinitions><View><Name>x</Name><ViewSelectedBy><TypeName>PrefectWin.{t}</TypeName></ViewSelectedBy><TableControl><TableHeaders><TableColumnHeader/></TableHeaders><TableRowEntries><TableRowEntry><TableColumnItems><TableColumnItem><PropertyName>{p}</PropertyName></TableColumnItem></TableColumnItems></TableRowEntry></TableRowEntries></TableControl></View></ViewDefinitions></Configuration>"
    producers = ps.type_producers([ps.parse(GOOD_PUBLIC, "Public/Get-PrefectThing.ps1")])
    assert producers == {"Thing": {"thing.get"}}
    assert ps.check_format_file("f", view.format(t="Thing", p="Mode"), FAKE_SCHEMA, producers) == []
    assert ps.check_format_file("f", view.format(t="Thing", p="Speed"), FAKE_SCHEMA, producers)
    assert ps.check_format_file("f", view.format(t="Nothing", p="Mode"), FAKE_SCHEMA, producers)
    assert ps.check_format_file("f", "<Configuration>", FAKE_SCHEMA, producers)


# ------------------------------------------------------------------------------------------
# Sessions, DSC resources and help examples (the repository, then each rule failing)
# ------------------------------------------------------------------------------------------
def _cmdlet_parameters() -> dict[str, set[str]]:
    table = {}
    for path in PUBLIC_FILES:
        (function,) = ps.functions(ps.load(path))
        table[function.name] = {parameter.name for parameter in function.parameters}
    return table


def _dsc_properties(configurable_only: bool = True) -> dict[str, set[str]]:
    root = ps.load(ps.REPO / ps.ROOT_MODULE)
    return {
        cls.name: {
            prop.name
            for prop in cls.properties
            if prop.dsc_arguments is not None and not (configurable_only and "NotConfigurable" in prop.dsc_arguments)
        }
        for cls in ps.dsc_resources(root)
    }


def test_the_session_cmdlets_are_exactly_those_without_a_backend_command() -> None:
    without = set()
    for path in PUBLIC_FILES:
        (function,) = ps.functions(ps.load(path))
        if {call.helper for call in function.backend_calls} <= set(ps.SESSION_HELPERS):
            without.add(function.name)
    assert without == SESSION_CMDLETS


@pytest.mark.parametrize("name", sorted(SESSION_CMDLETS))
def test_session_cmdlet_shape(name: str) -> None:
    _assert_clean(ps.check_session_cmdlet(ps.load(ps.REPO / "Public" / f"{name}.ps1")))


@pytest.mark.parametrize("path", PUBLIC_FILES + PRIVATE_FILES, ids=_ids)
def test_module_sources_do_not_use_psscriptroot(path: Path) -> None:
    _assert_clean(ps.check_no_psscriptroot(ps.load(path)))


def test_dsc_resources_are_declared_in_the_root_module_only() -> None:
    """DSC finds class-based resources in the root module (or a nested module the manifest
    lists); a class in a dot-sourced file would compile and never be found."""
    elsewhere = [ps.relative(path) for path in ALL_FILES if ps.relative(path) != ps.ROOT_MODULE and ps.is_dsc_file(ps.load(path))]
    assert elsewhere == []
    assert sorted(_dsc_properties()) == ["PrefectService", "PrefectSetting"]


def test_dsc_resource_classes() -> None:
    _assert_clean(ps.check_dsc_file(ps.load(ps.REPO / ps.ROOT_MODULE)))


def test_dsc_resources_have_the_properties_of_the_issue() -> None:
    """The keys, and the one way a database secret may reach PrefectService."""
    root = ps.load(ps.REPO / ps.ROOT_MODULE)
    resources = {cls.name: cls for cls in ps.dsc_resources(root)}
    for name in resources:
        keys = [p.name for p in resources[name].properties if "Key" in (p.dsc_arguments or [])]
        assert keys == ["Name"], name
    service = {p.name: p for p in resources["PrefectService"].properties}
    for wanted in ("Ensure", "Role", "Port", "BindAddress", "PrefectHome", "Pool", "WorkerType", "ApiUrl", "StartupType", "ServiceDependency"):
        assert wanted in service, wanted
    assert service["DatabaseCredential"].type == "System.Management.Automation.PSCredential"
    assert service["DatabaseUrlVariable"].type == "string"
    setting = {p.name for p in resources["PrefectSetting"].properties}
    assert {"Name", "Scope", "Value", "Ensure"} <= setting


def test_manifest_exports_the_dsc_resources() -> None:
    root = ps.load(ps.REPO / ps.ROOT_MODULE)
    names = [cls.name for cls in ps.dsc_resources(root)]
    _assert_clean(ps.check_dsc_exports(ps.load(ps.REPO / ps.MANIFEST), names))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=_ids)
def test_sample_configurations_use_real_resource_properties(path: Path) -> None:
    _assert_clean(ps.check_dsc_configuration(ps.load(path), _dsc_properties()))


def test_the_sample_configuration_is_server_plus_worker_without_plain_passwords() -> None:
    text = (ps.REPO / "examples" / "ServerAndWorker.ps1").read_text(encoding="utf-8")
    assert "Import-DscResource -ModuleName 'PrefectWin'" in text
    assert "PrefectService Server {" in text and "PrefectService Worker {" in text
    worker = text[text.index("PrefectService Worker {") :]
    assert "DependsOn = '[PrefectService]Server'" in worker[: worker.index("}")]
    assert "DatabaseCredential = $ServerDatabaseCredential" in text and "DatabaseUrlVariable = $ServerDatabaseUrlVariable" in text
    assert "CertificateFile" in text and "Thumbprint" in text, "the credential is encrypted with the node's certificate"
    source = ps.parse(text, "examples/ServerAndWorker.ps1")
    leaves = [source.node_text(node) for node in ps.walk(source.root, skip=("comment",)) if node.type != "comment" and not node.children]
    assert not [leaf for leaf in leaves if "plaintextpassword" in leaf.lower()], "never allow plain-text passwords in the MOF"
    assert "PsDscAllowPlainTextPassword" in text, "(the comment says why it is not used)"


@pytest.mark.parametrize("path", PUBLIC_FILES, ids=_ids)
def test_help_examples_use_only_parameters_the_cmdlets_have(path: Path) -> None:
    (function,) = ps.functions(ps.load(path))
    cmdlets = _cmdlet_parameters()
    found = []
    for index, (_, text) in enumerate(function.help.get("EXAMPLE", []), 1):
        found += ps.check_example(ps.example_code(text), f"{ps.relative(path)} .EXAMPLE {index}", cmdlets, must_call=function.name)
    _assert_clean(found)


def test_about_help_examples_use_only_parameters_the_cmdlets_have() -> None:
    snippets = ps.about_snippets(ABOUT_HELP.read_text(encoding="utf-8"))
    cmdlets = _cmdlet_parameters()
    found = []
    for line, code in snippets:
        found += ps.check_example(code, f"{ps.relative(ABOUT_HELP)} line {line}", cmdlets)
    _assert_clean(found)
    called = {name for _, code in snippets for _, name, _ in ps._commands(ps.parse(code + "\n")) if name in cmdlets}
    assert len(snippets) >= 15 and {"Install-PrefectService", "Start-PrefectSession", "Get-PrefectService"} <= called


def test_about_help_covers_the_topics_of_the_issue() -> None:
    text = ABOUT_HELP.read_text(encoding="utf-8")
    headings = {line.strip() for line in text.splitlines() if line and not line.startswith(" ")}
    for heading in ("TOPIC", "ARCHITECTURE", "PYTHON RESOLUTION ORDER", "SESSIONS", "REMOTING TO MANY HOSTS", "DSC", "TROUBLESHOOTING", "SEE ALSO"):
        assert heading in headings, heading
    assert "Invoke-Command -ComputerName $hosts -ScriptBlock {" in text
    assert "docs/protocol.md" in text
    order = [text.index(marker) for marker in ("PREFECTWIN_PYTHON\n", "config.json\n", ".venv in the module", "py -3'", "WindowsApps")]
    assert order == sorted(order), "the resolution order as Resolve-PrefectPython has it"


# Each of these rules failing on a small bad input.
GOOD_DSC = '''enum PrefectEnsure {
    Present
    Absent
}

[DscResource()]
class PrefectThing {
    [DscProperty(Key)]
    [string] $Name

    [DscProperty()]
    [PrefectEnsure] $Ensure = [PrefectEnsure]::Present

    [DscProperty()]
    [System.Management.Automation.PSCredential] $Credential

    hidden [string] $Cache

    [PrefectThing] Get() {
        return [PrefectThing]@{ Name = $this.Name }
    }

    [bool] Test() {
        return $true
    }

    [void] Set() {
        $null = $this.Name
    }

    static [PrefectThing[]] Export() {
        return [PrefectThing[]]@()
    }
}
'''


def _dsc_problems(text: str) -> str:
    source = ps.parse(text, "PrefectWin.psm1")
    return "\n".join(str(v) for v in ps.check_syntax(source) + ps.check_dsc_file(source))


def test_the_good_dsc_class_passes() -> None:
    assert _dsc_problems(GOOD_DSC) == ""
    assert [cls.name for cls in ps.dsc_resources(ps.parse(GOOD_DSC))] == ["PrefectThing"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("[DscResource()]\nclass", "class"), "no [DscResource()]"),
        (("[DscResource()]\nclass PrefectThing {", "[DscResource()]\n\n# a comment\nclass PrefectThing {"), "no [DscResource()]"),
        (("enum PrefectEnsure {", "[DscResource()]\nenum PrefectEnsure {"), "not followed by a class"),
        (("[DscProperty(Key)]", "[DscProperty()]"), "no [DscProperty(Key)]"),
        (("[DscProperty(Key)]", "[DscProperty(Key, Required)]"), "unknown DscProperty arguments"),
        (("$Credential", "$DependsOn"), "meta-property"),
        (("[System.Management.Automation.PSCredential] $Credential", "[string] $DatabasePassword"), "looks like a secret"),
        (("[System.Management.Automation.PSCredential] $Credential", "[string] $ApiKey"), "looks like a secret"),
        (("    hidden [string] $Cache", "    [string] $Cache"), "is not a [DscProperty()]"),
        (("[bool] Test()", "[string] Test()"), "Test must be [bool] Test()"),
        (("[void] Set() {", "[void] Set([bool] $force) {"), "Set must be [void] Set()"),
        (("static [PrefectThing[]] Export()", "[PrefectThing[]] Export()"), "has no static [PrefectThing[]] Export()"),
        (("[DscProperty()]\n    [PrefectEnsure]", "[DscProperty()]\n    [ValidateSet('a')]\n    [PrefectEnsure]"), "cannot parse"),
    ],
)
def test_dsc_rule(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in GOOD_DSC
    assert expected in _dsc_problems(GOOD_DSC.replace(old, new, 1))


def test_dsc_export_rule() -> None:
    manifest = "@{{\n    DscResourcesToExport = @({names})\n}}\n"
    good = ps.parse(manifest.format(names="\n        'PrefectService',\n        'PrefectSetting'\n    "), "m.psd1")
    assert ps.check_dsc_exports(good, ["PrefectSetting", "PrefectService"]) == []
    assert ps.check_dsc_exports(good, ["PrefectService"])
    assert ps.check_dsc_exports(ps.parse(manifest.format(names="'PrefectSetting', 'PrefectService'"), "m.psd1"), ["PrefectService", "PrefectSetting"])
    assert ps.check_dsc_exports(ps.parse("@{\n}\n", "m.psd1"), ["PrefectService"])


def test_dsc_configuration_rule() -> None:
    resources = {"PrefectThing": {"Name", "Ensure"}}
    block = "Configuration C {{\n    Node 'localhost' {{\n        PrefectThing One {{\n            {line}\n        }}\n    }}\n}}\n"
    assert ps.check_dsc_configuration(ps.parse(block.format(line="Name = 'a'")), resources) == []
    assert ps.check_dsc_configuration(ps.parse(block.format(line="DependsOn = '[File]x'")), resources) == []
    assert "no property Nmae" in str(ps.check_dsc_configuration(ps.parse(block.format(line="Nmae = 'a'")), resources))


def test_session_cmdlet_rule() -> None:
    path = ps.REPO / "Public" / "Start-PrefectSession.ps1"
    text = path.read_text(encoding="utf-8")
    assert ps.check_session_cmdlet(ps.parse(text, "Start.ps1")) == []
    no_question = text.replace("$PSCmdlet.ShouldProcess(", "$PSCmdlet.WriteVerbose(")
    assert "ShouldProcess" in str(ps.check_session_cmdlet(ps.parse(no_question, "Start.ps1")))
    backend = text.replace("Open-PrefectBackendSession -Cmdlet $PSCmdlet -TimeoutSec $TimeoutSec", "Invoke-PrefectBackend -Cmdlet $PSCmdlet -Command 'module.version'")
    assert "calls" in str(ps.check_session_cmdlet(ps.parse(backend, "Start.ps1")))
    assert "OutputType" in str(ps.check_session_cmdlet(ps.parse(text.replace("'PrefectWin.Session'", "'PrefectWin.Other'"), "Start.ps1")))


def test_psscriptroot_rule() -> None:
    assert ps.check_no_psscriptroot(ps.parse("$root = Split-Path -Path $PSScriptRoot -Parent\n"))
    assert ps.check_no_psscriptroot(ps.parse("$root = $script:PrefectWinModuleRoot\n")) == []


def test_example_rule() -> None:
    cmdlets = {"Get-PrefectThing": {"Name", "Mode"}}
    assert ps.check_example("Get-PrefectThing -Name 'a' -Mode 'Fast' -Verbose -WhatIf:$false", "e", cmdlets, must_call="Get-PrefectThing") == []
    assert "no parameter -Nmae" in str(ps.check_example("Get-PrefectThing -Nmae 'a'", "e", cmdlets))
    nested = "Invoke-Command -ComputerName 'a', 'b' -ScriptBlock { Get-PrefectThing -Speed 3 }"
    assert "no parameter -Speed" in str(ps.check_example(nested, "e", cmdlets)), "inside a script block too"
    assert "does not parse" in str(ps.check_example("Get-PrefectThing -Name a, b", "e", cmdlets))
    assert "does not call Get-PrefectThing" in str(ps.check_example("Get-Item -Path 'x'", "e", cmdlets, must_call="Get-PrefectThing"))
    assert "spelled" in str(ps.check_example("get-prefectthing -Name 'a'", "e", cmdlets))


def test_help_example_code_is_the_first_paragraph() -> None:
    assert ps.example_code("Get-PrefectThing -Name 'a' |\n    Format-List\n\nShows the thing -Nmae.") == "Get-PrefectThing -Name 'a' |\n    Format-List"


def test_about_snippets_rule() -> None:
    text = "TOPIC\n    about_X\n\n        not code\n        PS> Get-PrefectThing -Name 'a'\n        PS> Invoke-Command -ScriptBlock {\n        >>     Get-PrefectThing -Nmae 'b'\n        >> }\n"
    snippets = ps.about_snippets(text)
    assert snippets == [(5, "Get-PrefectThing -Name 'a'"), (6, "Invoke-Command -ScriptBlock {\n    Get-PrefectThing -Nmae 'b'\n}")]
    assert "no parameter -Nmae" in str(ps.check_example(snippets[1][1], "about", {"Get-PrefectThing": {"Name"}}))
