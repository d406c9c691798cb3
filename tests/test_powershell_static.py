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


@pytest.mark.parametrize("path", ALL_FILES + [ps.REPO / ps.FORMAT_FILE], ids=_ids)
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
    """The exemption above is for ProcessStartInfo with a constant argument list, nothing else."""
    source = ps.load(ps.REPO / ps.BRIDGE)
    text = source.text
    assert "System.Diagnostics.ProcessStartInfo" in text
    assert "'-X', 'utf8', '-m', 'prefectwin', 'rpc'" in text
    assert "UseShellExecute = $false" in text
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


def test_syntax_rule_reports_the_known_dsc_grammar_gap_with_its_line() -> None:
    snippet = "# header\n[DscResource()]\nclass PrefectService {\n    [DscProperty(Key)] [string] $Name\n}\n"
    found = ps.check_syntax(ps.parse(snippet, "PrefectWin.Dsc.psm1"))
    assert found, "if this passes, the grammar learned [DscResource()]: drop the gap from the docstring"
    assert found[0].location.startswith("PrefectWin.Dsc.psm1:")


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
