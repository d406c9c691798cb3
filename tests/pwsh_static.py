"""Static checks of PrefectWin's PowerShell, for machines that have no PowerShell.

Every file is parsed with tree-sitter-powershell. Each rule is a plain function over source text
(plus whatever else it needs: the manifest's export list, the backend schema) that returns a list
of `Violation`s with file and line, so tests/test_powershell_static.py can run it over the
repository AND feed it a small bad snippet to prove that it can fail.

Known grammar gaps (tree-sitter-powershell 0.26), all valid PowerShell that does not parse:
  - `[DscResource()]` before `class`, and several attributes stacked on one class property;
  - an empty script block, `{ }` or `{}`, as a value or argument (write `{ @() }`);
  - a comma list of bare words as a command argument, `Format-Table -Property a, b`
    (quote them: `-Property 'a', 'b'`; the help examples do the same).
`check_syntax` reports these with file and line like any other parse error. The code is
restructured around them (with a comment saying so) rather than the check weakened, with ONE
explicit exception: `parse()` blanks exactly the text `[DscResource()]` on a line of its own
(spaces of the same length, so every position stays where it was) before the grammar sees it,
and `check_dsc_file` separately requires that attribute on every class of a DSC file.
`parse_raw()` parses without that step (the tests pin the gap with it). A DSC class property
gets one `[DscProperty(...)]` and a type, nothing more.
"""
from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

REPO = Path(__file__).resolve().parent.parent
SKIPPED_DIRECTORIES = frozenset(
    {".venv", "venv", "out", ".git", ".hypothesis", ".pytest_cache", "__pycache__", "node_modules", "build", "dist"}
)
POWERSHELL_SUFFIXES = (".ps1", ".psm1", ".psd1")
BRIDGE = "Private/Invoke-PrefectBackend.ps1"
ROOT_MODULE = "PrefectWin.psm1"
MANIFEST = "PrefectWin.psd1"
FORMAT_FILE = "PrefectWin.Format.ps1xml"
BACKEND_HELPERS = ("Invoke-PrefectBackend", "Invoke-PrefectPlan")
# What Start-, Stop- and Get-PrefectSession call instead: they manage the bridge's own process
# and send no backend command of their own (a session's handshake is module.version, inside).
SESSION_HELPERS = ("Open-PrefectBackendSession", "Close-PrefectBackendSession", "Get-PrefectBackendSession")
MAX_PUBLIC_BODY_LINES = 30

# `Get-Verb` on Windows PowerShell 5.1 and PowerShell 7.
APPROVED_VERBS = frozenset(
    """Add Approve Assert Backup Block Build Checkpoint Clear Close Compare Complete Compress Confirm
    Connect Convert ConvertFrom ConvertTo Copy Debug Deny Deploy Disable Disconnect Dismount Edit
    Enable Enter Exit Expand Export Find Format Get Grant Group Hide Import Initialize Install Invoke
    Join Limit Lock Measure Merge Mount Move New Open Optimize Out Ping Pop Protect Publish Push Read
    Receive Redo Register Remove Rename Repair Request Reset Resize Resolve Restart Restore Resume
    Revoke Save Search Select Send Set Show Skip Split Start Step Stop Submit Suspend Switch Sync
    Test Trace Unblock Undo Uninstall Unlock Unprotect Unpublish Unregister Update Use Wait Watch
    Write""".split()
)

# Built-in aliases that show up in scripts (Get-Alias); the house style spells commands out.
ALIASES = frozenset(
    """? % ac asnp cat cd chdir clc clear clhy cli clp cls clv cnsn compare copy cp cpi cpp curl cvpa
    dbp del diff dir dnsn ebp echo epal epcsv epsn erase etsn exsn fc fhx fl foreach ft fw gal gbp gc
    gcb gci gcm gcs gdr ghy gi gin gjb gl gm gmo gp gps gpv group gsn gsnp gsv gtz gu gv gwmi h
    history icm iex ihy ii ipal ipcsv ipmo ipsn irm ise iwmi iwr kill lp ls man md measure mi mount
    move mp mv nal ndr ni nmo npssc nsn nv ogv oh popd ps pushd pwd r rbp rcjb rcsn rd rdr ren ri rjb
    rm rmdir rmo rni rnp rp rsn rsnp rujb rv rvpa rwmi sajb sal saps sasv sbp sc scb select set shcm
    si sl sleep sls sort sp spjb spps spsv start stz sujb sv swmi tee trcm type wget where wjb write""".split()
)

# Commands that start a process (or run arbitrary code that may): only the bridge may.
PROCESS_COMMANDS = frozenset(
    name.lower()
    for name in (
        "Start-Process",
        "Start-Job",
        "Start-ThreadJob",
        "Invoke-Expression",
        "Invoke-Item",
        "Invoke-Command",
        "Invoke-CimMethod",
        "Invoke-WmiMethod",
        "Start-Transcript",
    )
)
PROCESS_TYPES = re.compile(
    r"(?i)(?:^|[\s\[.'\"])(?:system\.)?diagnostics\.process(?:startinfo)?\b|\bprocessstartinfo\b|wscript\.shell|shell\.application"
)
VERB_NOUN = re.compile(r"^[A-Za-z]+-[A-Za-z][A-Za-z0-9]*$")
SCOPES_AND_DRIVES = frozenset({"env", "script", "global", "local", "private", "using", "variable", "function", "alias", "workflow"})
HELP_KEYWORDS = frozenset(
    """SYNOPSIS DESCRIPTION PARAMETER EXAMPLE INPUTS OUTPUTS NOTES LINK COMPONENT ROLE FUNCTIONALITY
    FORWARDHELPTARGETNAME FORWARDHELPCATEGORY REMOTEHELPRUNSPACE EXTERNALHELP""".split()
)
COMMON_PARAMETERS = frozenset(
    """Verbose Debug ErrorAction WarningAction InformationAction ProgressAction ErrorVariable
    WarningVariable InformationVariable OutVariable OutBuffer PipelineVariable WhatIf Confirm""".split()
)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    rule: str
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: [{self.rule}] {self.message}"


@functools.lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(Language(tree_sitter_powershell.language()))


@dataclass
class Source:
    label: str
    text: str
    data: bytes
    root: Node
    lines: list[str] = field(default_factory=list)
    # 0-based lines where parse() blanked a `[DscResource()]` attribute (see the docstring).
    dsc_resource_lines: tuple[int, ...] = ()

    def node_text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def where(self, node: Node) -> str:
        return f"{self.label}:{node.start_point[0] + 1}"


DSC_RESOURCE_ATTRIBUTE = "[DscResource()]"
_DSC_RESOURCE_LINE = re.compile(r"^([ ]*)\[DscResource\(\)\][ ]*$", re.M)


def blank_dsc_resource_attributes(text: str) -> tuple[str, tuple[int, ...]]:
    """`text` with each `[DscResource()]` that stands on a line of its own replaced by as many
    spaces, and the 0-based numbers of those lines. Nothing else is touched: an attribute with
    arguments, or one sharing its line with code, still reaches the grammar (and fails)."""
    lines: list[int] = []

    def blank(match: re.Match[str]) -> str:
        lines.append(text.count("\n", 0, match.start()))
        return " " * len(match.group(0))

    return _DSC_RESOURCE_LINE.sub(blank, text), tuple(lines)


def parse_raw(text: str, label: str = "<snippet>") -> Source:
    """Parse exactly `text`, grammar gaps included."""
    data = text.encode("utf-8")
    return Source(label, text, data, _parser().parse(data).root_node, text.splitlines())


@functools.lru_cache(maxsize=256)
def parse(text: str, label: str = "<snippet>") -> Source:
    """Parse `text` with its `[DscResource()]` attributes blanked (see the docstring). `text`
    and `lines` stay the original, so layout rules see the file as it is."""
    blanked, dsc_lines = blank_dsc_resource_attributes(text)
    data = blanked.encode("utf-8")
    tree = _parser().parse(data)
    return Source(label, text, data, tree.root_node, text.splitlines(), dsc_lines)


def walk(node: Node, skip: tuple[str, ...] = ()) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current.type in skip:
            continue
        stack.extend(reversed(current.children))


def children_of_type(node: Node, *types: str) -> list[Node]:
    return [child for child in node.children if child.type in types]


def first_child(node: Optional[Node], *types: str) -> Optional[Node]:
    if node is None:
        return None
    for child in node.children:
        if child.type in types:
            return child
    return None


def ancestors(node: Node) -> Iterator[Node]:
    current = node.parent
    while current is not None:
        yield current
        current = current.parent


def repo_files(*suffixes: str) -> list[Path]:
    """Files under the repository with these suffixes, outside virtual environments and output."""
    found = []
    for directory, subdirectories, files in os.walk(REPO):
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
        for name in sorted(files):
            if name.lower().endswith(suffixes):
                found.append(Path(directory) / name)
    return found


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def load(path: Path) -> Source:
    return parse(path.read_text(encoding="utf-8", errors="replace"), relative(path))


class NotLiteral(ValueError):
    """The expression is computed at run time, not a constant the checker can read."""


def evaluate(src: Source, node: Node) -> Any:
    """The value of a constant PowerShell expression: strings, integers, $true/$false/$null,
    arrays (`a, b` and `@(...)`) and hashtables. Anything else raises NotLiteral."""
    kind = node.type
    if kind == "string_literal":
        return _string_value(src, node)
    if kind in ("verbatim_string_characters", "expandable_string_literal"):
        return _string_value(src, node.parent if node.parent is not None and node.parent.type == "string_literal" else node)
    if kind == "generic_token":
        return src.node_text(node)
    if kind == "integer_literal":
        text = src.node_text(node)
        try:
            return int(text, 0)
        except ValueError:
            raise NotLiteral(text) from None
    if kind == "decimal_integer_literal":
        return int(src.node_text(node))
    if kind == "variable":
        name = src.node_text(node).lower()
        if name in ("$true", "$false", "$null"):
            return {"$true": True, "$false": False, "$null": None}[name]
        raise NotLiteral(name)
    if kind == "expression_with_unary_operator":
        text = src.node_text(node).strip()
        operand = node.named_children[-1] if node.named_children else None
        if text.startswith("-") and operand is not None:
            value = evaluate(src, operand)
            if isinstance(value, int):
                return -value
        raise NotLiteral(text)
    if kind == "array_literal_expression":
        items = [evaluate(src, child) for child in node.named_children]
        return items[0] if len(items) == 1 else items
    if kind == "array_expression":
        statements = first_child(node, "statement_list")
        values: list[Any] = []
        for statement in statements.named_children if statements is not None else []:
            if statement.type == "comment":
                continue
            value = evaluate(src, statement)
            values.extend(value if isinstance(value, list) else [value])
        return values
    if kind == "hash_literal_expression":
        body = first_child(node, "hash_literal_body")
        table: dict[str, Any] = {}
        for entry in children_of_type(body, "hash_entry") if body is not None else []:
            key_node = first_child(entry, "key_expression")
            value_node = entry.named_children[-1]
            simple = first_child(key_node, "simple_name")
            if simple is not None:
                key = src.node_text(simple)
            elif key_node is not None and key_node.named_children:
                key = evaluate(src, key_node.named_children[0])
            else:
                raise NotLiteral("hashtable key")
            table[str(key)] = evaluate(src, value_node)
        return table
    if kind == "comment":
        raise NotLiteral("comment")
    named = [child for child in node.named_children if child.type != "comment"]
    if len(named) == 1:
        return evaluate(src, named[0])
    raise NotLiteral(f"{kind}: {src.node_text(node)[:60]}")


def _string_value(src: Source, node: Node) -> str:
    text = src.node_text(node)
    if first_child(node, "expandable_string_literal") is not None or node.type == "expandable_string_literal":
        inner = node if node.type == "expandable_string_literal" else first_child(node, "expandable_string_literal")
        if inner is not None and inner.named_children:
            raise NotLiteral(text)
        body = text[1:-1]
        if "`" in body or "$" in body:
            raise NotLiteral(text)
        return body
    if text.startswith("@'") or text.startswith('@"'):
        return "\n".join(text.splitlines()[1:-1])
    return text[1:-1].replace("''", "'")


# --------------------------------------------------------------------------------------------
# Rules for every PowerShell file
# --------------------------------------------------------------------------------------------
def check_syntax(src: Source) -> list[Violation]:
    """No ERROR or MISSING nodes: the grammar understood every character."""
    found = []
    for node in walk(src.root, skip=("ERROR",)):
        if node.type == "ERROR" or node.is_missing:
            line, column = node.start_point
            code = src.lines[line].strip() if line < len(src.lines) else ""
            what = f"missing '{node.type}'" if node.is_missing else "code the grammar cannot parse"
            found.append(Violation("syntax", f"{src.label}:{line + 1}:{column + 1}", f"{what}: {code[:100]!r}"))
    return found


def check_ascii(label: str, data: bytes) -> list[Violation]:
    """PowerShell files are ASCII only: Windows PowerShell reads BOM-less files as ANSI."""
    found = []
    for number, line in enumerate(data.split(b"\n"), 1):
        for column, byte in enumerate(line, 1):
            if byte > 0x7F:
                found.append(Violation("ascii", f"{label}:{number}:{column}", f"non-ASCII byte 0x{byte:02X}"))
                break
    return found


def _string_or_comment_lines(src: Source) -> tuple[set[int], set[int]]:
    """(lines inside multi-line strings or here-strings, lines inside comments), 0-based."""
    in_strings: set[int] = set()
    in_comments: set[int] = set()
    for node in walk(src.root):
        start, end = node.start_point[0], node.end_point[0]
        if node.type == "string_literal" and end > start:
            in_strings.update(range(start + 1, end + 1))
        elif node.type == "comment":
            in_comments.update(range(start, end + 1))
    return in_strings, in_comments


def check_layout(src: Source) -> list[Violation]:
    """No tabs, no trailing whitespace, 4-space indentation, no opening brace on a line of its own."""
    found = []
    in_strings, in_comments = _string_or_comment_lines(src)
    for number, line in enumerate(src.lines):
        where = f"{src.label}:{number + 1}"
        if "\t" in line:
            found.append(Violation("layout", where, "tab character; indent with 4 spaces"))
        if number in in_strings:
            continue
        if line != line.rstrip():
            found.append(Violation("layout", where, "trailing whitespace"))
        if number in in_comments or not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent % 4:
            found.append(Violation("layout", where, f"indented by {indent} spaces; use multiples of 4"))
        if line.strip() == "{":
            found.append(Violation("layout", where, "opening brace on its own line; put it at the end of the previous line"))
    return found


def _commands(src: Source) -> Iterator[tuple[Node, str, bool]]:
    """(command node, its name as written, whether it is invoked with & or .)."""
    for node in walk(src.root):
        if node.type != "command":
            continue
        operator = first_child(node, "command_invokation_operator")
        name_node = node.child_by_field_name("command_name")
        if name_node is None:
            continue
        yield node, src.node_text(name_node).strip(), operator is not None


def check_no_write_host(src: Source) -> list[Violation]:
    """No Write-Host (or the console directly): output goes to streams a caller can redirect."""
    found = []
    for node, name, _ in _commands(src):
        if name.lower() == "write-host":
            found.append(Violation("write-host", src.where(node), "Write-Host; use Write-Output, Write-Verbose or Write-Information"))
    for node in walk(src.root):
        if node.type == "type_literal" and re.fullmatch(r"\[(system\.)?console\]", src.node_text(node).replace(" ", ""), re.I):
            found.append(Violation("write-host", src.where(node), "[Console] writes around PowerShell's streams"))
    return found


def check_no_aliases(src: Source) -> list[Violation]:
    """Commands are spelled out: no aliases such as ?, %, select, where, foreach, gci, ls, cat."""
    found = []
    for node, name, invoked in _commands(src):
        if not invoked and name.lower() in ALIASES:
            found.append(Violation("alias", src.where(node), f"alias '{name}'; spell the command out"))
    return found


def check_ps51_syntax(src: Source) -> list[Violation]:
    """Nothing that Windows PowerShell 5.1 cannot parse (ternaries and ?? already fail to parse)."""
    found = []
    for node in walk(src.root):
        if node.type == "pipeline_chain_tail":
            found.append(Violation("ps51", src.where(node), "'&&'/'||' pipeline chains need PowerShell 7"))
        elif node.type == "block_name" and src.node_text(node).lower() == "clean":
            found.append(Violation("ps51", src.where(node), "'clean' blocks need PowerShell 7.3"))
    return found


_COLON_AFTER_VARIABLE = re.compile(r"(?<![`$])\$([A-Za-z_][A-Za-z0-9_]*):(?=([^A-Za-z0-9_{?]|$)|([A-Za-z_]))")


def check_string_variables(src: Source) -> list[Violation]:
    """"$name: text" is a parse error and "$name:text" a drive-qualified variable: write "${name}:"."""
    found = []
    for node in walk(src.root):
        if node.type not in ("expandable_string_literal", "expandable_here_string_literal"):
            continue
        text = src.node_text(node)
        for match in _COLON_AFTER_VARIABLE.finditer(text):
            if match.group(1).lower() in SCOPES_AND_DRIVES:
                continue
            line = node.start_point[0] + text.count("\n", 0, match.start()) + 1
            found.append(
                Violation("string", f"{src.label}:{line}", f"'${match.group(1)}:' in a string; write '${{{match.group(1)}}}:'")
            )
    return found


def check_no_process_start(src: Source, allow_dot_source: bool = False) -> list[Violation]:
    """Only Private/Invoke-PrefectBackend.ps1 starts processes: no Start-Process,
    [Diagnostics.Process], ProcessStartInfo, '&' calls of programs or Invoke-Expression elsewhere
    in the module. A command that is not Verb-Noun is an alias or an external program."""
    found = []
    for node, name, invoked in _commands(src):
        lowered = name.lower()
        if invoked:
            operator = src.node_text(first_child(node, "command_invokation_operator")).strip()
            target = node.child_by_field_name("command_name")
            if target is not None and first_child(target, "script_block_expression") is not None:
                continue
            if operator == "." and allow_dot_source:
                continue
            found.append(Violation("process", src.where(node), f"'{operator} {name}' runs a program or script; only {BRIDGE} starts processes"))
        elif lowered in PROCESS_COMMANDS:
            found.append(Violation("process", src.where(node), f"{name} starts a process or runs code; only {BRIDGE} may"))
        elif not VERB_NOUN.match(name):
            found.append(Violation("process", src.where(node), f"'{name}' is not a Verb-Noun command: an alias or external program"))
    for node in walk(src.root):
        if node.type in ("type_literal", "type_spec", "string_literal", "generic_token") and node.parent is not None:
            if node.type == "type_spec" and node.parent.type == "type_literal":
                continue
            if PROCESS_TYPES.search(" " + src.node_text(node)):
                found.append(Violation("process", src.where(node), f"{src.node_text(node)[:60]}: only {BRIDGE} starts processes"))
    return found


# --------------------------------------------------------------------------------------------
# Functions, parameters and comment-based help
# --------------------------------------------------------------------------------------------
@dataclass
class Parameter:
    name: str
    line: int
    type: Optional[str] = None
    validate_set: Optional[list[str]] = None
    validate_range: Optional[tuple[Any, Any]] = None
    mandatory: bool = False
    has_default: bool = False
    default: Any = None


@dataclass
class BackendCall:
    helper: str
    command: Optional[str]
    line: int


@dataclass
class Function:
    name: str
    line: int
    node: Node
    help: Optional[dict[str, list[tuple[str, str]]]]
    cmdlet_binding: Optional[dict[str, Any]]
    output_types: list[str]
    parameters: list[Parameter]
    backend_calls: list[BackendCall]
    object_type_names: list[str]
    body_lines: int


def parse_help(comment: str) -> dict[str, list[tuple[str, str]]]:
    """Sections of a comment-based help block: KEYWORD -> [(argument, text), ...]."""
    body = comment[2:-2] if comment.startswith("<#") else comment
    sections: dict[str, list[tuple[str, list[str]]]] = {}
    current: Optional[tuple[str, list[str]]] = None
    for line in body.splitlines():
        match = re.match(r"^\s*\.([A-Za-z]+)\s*(.*?)\s*$", line)
        if match and match.group(1).upper() in HELP_KEYWORDS:
            current = (match.group(2), [])
            sections.setdefault(match.group(1).upper(), []).append(current)
        elif current is not None:
            current[1].append(line)
    return {key: [(argument, "\n".join(lines).strip()) for argument, lines in entries] for key, entries in sections.items()}


def _help_comment(src: Source, function: Node) -> Optional[str]:
    for child in function.children:
        if child.type == "comment" and src.node_text(child).startswith("<#"):
            return src.node_text(child)
    body = first_child(function, "script_block")
    if body is not None:
        for child in body.children:
            if child.type == "comment" and src.node_text(child).startswith("<#"):
                return src.node_text(child)
    previous = function.prev_sibling
    if previous is not None and previous.type == "comment" and src.node_text(previous).startswith("<#"):
        if function.start_point[0] - previous.end_point[0] <= 2:
            return src.node_text(previous)
    return None


def _attributes(src: Source, attribute_list: Optional[Node]) -> list[tuple[str, Node]]:
    """(name, attribute node) for [Name(...)] attributes; type constraints are named 'type:<type>'."""
    result = []
    for attribute in children_of_type(attribute_list, "attribute") if attribute_list is not None else []:
        literal = first_child(attribute, "type_literal")
        if literal is not None:
            spec = first_child(literal, "type_spec")
            result.append(("type:" + (src.node_text(spec) if spec is not None else ""), attribute))
            continue
        name = first_child(attribute, "attribute_name")
        if name is not None:
            result.append((src.node_text(name).strip(), attribute))
    return result


def attribute_arguments(src: Source, attribute: Node) -> tuple[list[Node], dict[str, Optional[Node]]]:
    positional: list[Node] = []
    named: dict[str, Optional[Node]] = {}
    arguments = first_child(attribute, "attribute_arguments")
    for argument in children_of_type(arguments, "attribute_argument") if arguments is not None else []:
        simple = first_child(argument, "simple_name")
        if simple is not None:
            values = [child for child in argument.named_children if child.id != simple.id]
            named[src.node_text(simple)] = values[-1] if values else None
        elif argument.named_children:
            positional.append(argument.named_children[0])
    return positional, named


def _named_values(src: Source, named: dict[str, Optional[Node]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, node in named.items():
        try:
            values[key] = True if node is None else evaluate(src, node)
        except NotLiteral:
            values[key] = src.node_text(node) if node is not None else True
    return values


def _parameters(src: Source, param_block: Optional[Node]) -> list[Parameter]:
    parameters = []
    parameter_list = first_child(param_block, "parameter_list")
    for node in children_of_type(parameter_list, "script_parameter") if parameter_list is not None else []:
        variable = first_child(node, "variable")
        name = src.node_text(variable).lstrip("$").strip("{}") if variable is not None else "?"
        parameter = Parameter(name=name, line=node.start_point[0] + 1)
        for attribute_name, attribute in _attributes(src, first_child(node, "attribute_list")):
            lowered = attribute_name.lower()
            if lowered.startswith("type:"):
                parameter.type = attribute_name[5:]
                continue
            positional, named = attribute_arguments(src, attribute)
            if lowered == "validateset":
                try:
                    values = [evaluate(src, argument) for argument in positional]
                except NotLiteral:
                    values = ["<not a literal>"]
                parameter.validate_set = [str(value) for value in values]
            elif lowered == "validaterange":
                try:
                    bounds = [evaluate(src, argument) for argument in positional]
                except NotLiteral:
                    bounds = []
                if len(bounds) == 2:
                    parameter.validate_range = (bounds[0], bounds[1])
            elif lowered == "parameter":
                mandatory = _named_values(src, named).get("Mandatory", False)
                parameter.mandatory = mandatory is True
        default = first_child(node, "script_parameter_default")
        if default is not None:
            parameter.has_default = True
            try:
                parameter.default = evaluate(src, default.named_children[-1])
            except NotLiteral:
                parameter.default = src.node_text(default.named_children[-1])
        parameters.append(parameter)
    return parameters


def _argument_after(src: Source, command: Node, parameter_name: str) -> tuple[bool, Optional[str]]:
    """(whether -parameter_name is passed, its literal value or None)."""
    elements = command.child_by_field_name("command_elements")
    if elements is None:
        return False, None
    items = [child for child in elements.named_children if child.type != "command_argument_sep"]
    for index, item in enumerate(items):
        if item.type == "command_parameter" and src.node_text(item).lower() == "-" + parameter_name.lower():
            if index + 1 < len(items):
                try:
                    value = evaluate(src, items[index + 1])
                except NotLiteral:
                    return True, None
                return True, value if isinstance(value, str) else None
            return True, None
    return False, None


def _body_line_count(src: Source, script_block: Optional[Node]) -> int:
    if script_block is None:
        return 0
    count = 0
    for child in script_block.children:
        if child.type in ("param_block", "comment"):
            continue
        for line in src.node_text(child).splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                count += 1
    return count


def functions(src: Source) -> list[Function]:
    found = []
    for node in walk(src.root):
        if node.type != "function_statement":
            continue
        name_node = first_child(node, "function_name")
        script_block = first_child(node, "script_block")
        param_block = first_child(script_block, "param_block")
        comment = _help_comment(src, node)
        binding = None
        output_types: list[str] = []
        for attribute_name, attribute in _attributes(src, first_child(param_block, "attribute_list")):
            positional, named = attribute_arguments(src, attribute)
            if attribute_name.lower() == "cmdletbinding":
                binding = _named_values(src, named)
            elif attribute_name.lower() == "outputtype":
                for argument in positional:
                    try:
                        value = evaluate(src, argument)
                        output_types.extend(str(v) for v in (value if isinstance(value, list) else [value]))
                    except NotLiteral:
                        output_types.append(src.node_text(argument).strip("[]"))
        calls = []
        type_names = []
        for command in walk(script_block) if script_block is not None else []:
            if command.type != "command":
                continue
            name = src.node_text(command.child_by_field_name("command_name")).strip() if command.child_by_field_name("command_name") else ""
            if name in BACKEND_HELPERS:
                _, value = _argument_after(src, command, "Command")
                calls.append(BackendCall(name, value, command.start_point[0] + 1))
            elif name in SESSION_HELPERS:
                calls.append(BackendCall(name, "session:" + name, command.start_point[0] + 1))
            elif name == "ConvertTo-PrefectObject":
                _, value = _argument_after(src, command, "TypeName")
                type_names.append(value or "<not a literal>")
        found.append(
            Function(
                name=src.node_text(name_node).strip() if name_node is not None else "?",
                line=node.start_point[0] + 1,
                node=node,
                help=parse_help(comment) if comment else None,
                cmdlet_binding=binding,
                output_types=output_types,
                parameters=_parameters(src, param_block),
                backend_calls=calls,
                object_type_names=type_names,
                body_lines=_body_line_count(src, script_block),
            )
        )
    return found


def check_parameter_shadowing(src: Source) -> list[Violation]:
    """PowerShell variables ignore case: '$bootstrap = ...' overwrites a '[string] $Bootstrap'
    parameter (and converts the value to its type). A deliberate reassignment is spelled like
    the parameter; a different spelling, or a foreach over a parameter's name, is a bug."""
    found = []
    for function in functions(src):
        parameters = {parameter.name.lower(): parameter.name for parameter in function.parameters}
        for node in walk(function.node):
            if node.type == "assignment_expression" and node.children:
                target = src.node_text(node.children[0]).strip()
                name = target[1:] if target.startswith("$") else ""
                declared = parameters.get(name.lower())
                if name.isidentifier() and declared is not None and declared != name:
                    found.append(Violation("shadow", src.where(node), f"'${name}' is the parameter ${declared} (names ignore case); rename the variable"))
            elif node.type == "foreach_statement":
                variable = first_child(node, "variable")
                name = src.node_text(variable)[1:] if variable is not None else ""
                if name.lower() in parameters:
                    found.append(Violation("shadow", src.where(node), f"foreach (${name} ...) overwrites the parameter ${parameters[name.lower()]}"))
    return found


def _top_level_statements(src: Source) -> list[Node]:
    statements = []
    for child in src.root.children:
        if child.type == "statement_list":
            statements.extend(c for c in child.named_children if c.type != "comment")
        elif child.type != "comment":
            statements.append(child)
    return statements


def check_public_file(src: Source, file_stem: str, exported: Optional[set[str]] = None) -> list[Violation]:
    """A Public/*.ps1 file defines exactly one advanced function, named like the file and exported,
    with comment-based help, a typed output and a short body that calls the backend once."""
    found: list[Violation] = []
    defined = functions(src)
    if len(defined) != 1:
        return [Violation("public", f"{src.label}:1", f"defines {len(defined)} functions; a public file defines exactly one")]
    fn = defined[0]
    where = f"{src.label}:{fn.line}"
    for statement in _top_level_statements(src):
        if statement.type != "function_statement":
            found.append(Violation("public", src.where(statement), "code outside the function runs at import; move it into Private/"))
    if fn.name != file_stem:
        found.append(Violation("public", where, f"function '{fn.name}' is in '{file_stem}.ps1'; name them alike"))
    verb, _, noun = fn.name.partition("-")
    if verb not in APPROVED_VERBS:
        found.append(Violation("public", where, f"'{verb}' is not an approved verb (Get-Verb)"))
    if not noun.startswith("Prefect"):
        found.append(Violation("public", where, f"noun '{noun}' should start with 'Prefect'"))
    if re.search(r"[^su]s$", noun):
        found.append(Violation("public", where, f"noun '{noun}' looks plural; nouns are singular"))
    if exported is not None and fn.name not in exported:
        found.append(Violation("public", where, f"'{fn.name}' is not in the manifest's FunctionsToExport"))
    if fn.cmdlet_binding is None:
        found.append(Violation("public", where, "no [CmdletBinding()]"))
    if not fn.output_types:
        found.append(Violation("public", where, "no [OutputType('PrefectWin.<Type>')]"))
    for type_name in fn.object_type_names:
        if f"PrefectWin.{type_name}" not in fn.output_types:
            found.append(Violation("public", where, f"returns PrefectWin.{type_name} but [OutputType] says {fn.output_types}"))
    found.extend(_check_help(fn, where))
    if fn.body_lines > MAX_PUBLIC_BODY_LINES:
        found.append(
            Violation("public", where, f"{fn.body_lines} lines of code after the param block; keep it to {MAX_PUBLIC_BODY_LINES} (logic belongs in Python)")
        )
    commands = {call.command for call in fn.backend_calls}
    if not fn.backend_calls:
        found.append(Violation("public", where, f"never calls {' or '.join(BACKEND_HELPERS)}"))
    elif None in commands:
        found.append(Violation("public", where, "-Command must be a string literal 'family.verb'"))
    elif len(commands) != 1:
        found.append(Violation("public", where, f"calls several backend commands {sorted(commands)}; a cmdlet maps to one"))
    return found


def _check_help(fn: Function, where: str) -> list[Violation]:
    if fn.help is None:
        return [Violation("help", where, "no comment-based help (<# .SYNOPSIS ... #>)")]
    found = []
    for keyword in ("SYNOPSIS", "DESCRIPTION"):
        entries = fn.help.get(keyword, [])
        if not entries or not any(text or argument for argument, text in entries):
            found.append(Violation("help", where, f"help has no .{keyword} text"))
    examples = [text for _, text in fn.help.get("EXAMPLE", []) if text]
    if len(examples) < 2:
        found.append(Violation("help", where, f"help has {len(examples)} .EXAMPLE; every cmdlet gets at least 2"))
    documented = {argument.lower(): text for argument, text in fn.help.get("PARAMETER", [])}
    declared = {parameter.name.lower() for parameter in fn.parameters}
    for parameter in fn.parameters:
        if not documented.get(parameter.name.lower()):
            found.append(Violation("help", where, f"help has no .PARAMETER {parameter.name}"))
    for name in sorted(set(documented) - declared):
        found.append(Violation("help", where, f".PARAMETER {name} documents a parameter that does not exist"))
    outputs = " ".join(text + " " + argument for argument, text in fn.help.get("OUTPUTS", []))
    for output_type in fn.output_types:
        if output_type not in outputs:
            found.append(Violation("help", where, f"help's .OUTPUTS does not name {output_type}"))
    return found


# --------------------------------------------------------------------------------------------
# Public functions against the backend's schema
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def backend_schema() -> dict[str, Any]:
    """`python -m prefectwin rpc --schema`, from the interpreter running the tests; once per session."""
    completed = subprocess.run(
        [sys.executable, "-m", "prefectwin", "rpc", "--schema"], capture_output=True, timeout=120, check=True
    )
    return json.loads(completed.stdout)


def camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        return root.get("$defs", {}).get(reference.split("/")[-1], schema)
    return schema


def _variants(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a property schema (anyOf/oneOf flattened, $refs resolved)."""
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            result = []
            for option in schema[key]:
                result.extend(_variants(option, root))
            return result
    if schema.get("type") == "null":
        return []
    return [schema]


def schema_enum(schema: dict[str, Any], root: dict[str, Any]) -> Optional[list[Any]]:
    for variant in _variants(schema, root):
        if "enum" in variant:
            return list(variant["enum"])
        if variant.get("type") == "array" and isinstance(variant.get("items"), dict):
            inner = schema_enum(variant["items"], root)
            if inner is not None:
                return inner
        if "const" in variant:
            return [variant["const"]]
    return None


_TYPE_FAMILIES = {
    "integer": {"int", "int32", "int64", "long", "uint16", "uint32", "uint64", "int16", "byte", "uint"},
    "number": {"double", "float", "single", "decimal", "int", "int32", "int64", "long"},
    "string": {"string"},
    "boolean": {"switch", "bool", "boolean"},
    "object": {"hashtable", "system.collections.hashtable", "system.collections.idictionary", "pscustomobject"},
}


def _type_problem(parameter: Parameter, schema: dict[str, Any], root: dict[str, Any]) -> Optional[str]:
    variants = _variants(schema, root)
    if not variants:
        return None
    if parameter.type is None:
        return "has no type; give it the schema's type"
    ps_type = parameter.type.lower().replace("system.", "")
    for variant in variants:
        kind = variant.get("type")
        if kind == "array":
            if ps_type.endswith("[]"):
                return None
            continue
        if kind == "string" and variant.get("format") == "password" and ps_type in ("securestring", "security.securestring"):
            return None
        if kind == "object" and ps_type in ("pscredential", "management.automation.pscredential"):
            # A PSCredential travels as {userName, password} (see ConvertTo-PrefectJsonValue).
            if set(variant.get("properties", {})) == {"userName", "password"}:
                return None
        if kind in _TYPE_FAMILIES and ps_type in _TYPE_FAMILIES[kind]:
            return None
        if kind is None and "enum" in variant and ps_type == "string":
            return None
    kinds = sorted({str(variant.get("type", "enum")) for variant in variants})
    return f"is [{parameter.type}] but the schema says {'/'.join(kinds)}"


def check_against_schema(
    src: Source,
    schema: dict[str, Any],
    powershell_only: dict[str, dict[str, str]],
    backend_only: dict[str, dict[str, str]],
) -> list[Violation]:
    """A public function's parameters are its command's params model, PascalCase; validation
    matches; state-changing commands go through ShouldProcess (Invoke-PrefectPlan)."""
    defined = functions(src)
    if len(defined) != 1:
        return [Violation("schema", f"{src.label}:1", "expected exactly one function")]
    fn = defined[0]
    where = f"{src.label}:{fn.line}"
    if fn.backend_calls and {call.helper for call in fn.backend_calls} <= set(SESSION_HELPERS):
        # No backend command and so no params model: check_session_cmdlet holds these instead.
        return []
    names = {call.command for call in fn.backend_calls if call.command}
    if len(names) != 1:
        return [Violation("schema", where, "cannot tell which backend command this cmdlet calls")]
    name = names.pop()
    commands = schema.get("commands", {})
    if name not in commands:
        return [Violation("schema", where, f"calls '{name}', which the backend does not have (rpc --schema)")]
    command = commands[name]
    params_schema = command["params"]
    properties: dict[str, Any] = params_schema.get("properties", {})
    required = set(params_schema.get("required", []))
    found: list[Violation] = []

    binding = fn.cmdlet_binding or {}
    supports = binding.get("SupportsShouldProcess", False) is True
    helpers = {call.helper for call in fn.backend_calls}
    if command.get("changesState"):
        if not supports:
            found.append(Violation("schema", where, f"'{name}' changes state: declare [CmdletBinding(SupportsShouldProcess = $true)]"))
        if helpers != {"Invoke-PrefectPlan"}:
            found.append(Violation("schema", where, f"'{name}' changes state: call it through Invoke-PrefectPlan (ShouldProcess per action)"))
    else:
        if supports:
            found.append(Violation("schema", where, f"'{name}' changes nothing, yet the cmdlet declares SupportsShouldProcess"))
        if helpers != {"Invoke-PrefectBackend"}:
            found.append(Violation("schema", where, f"'{name}' changes nothing: call it with Invoke-PrefectBackend"))

    allowed_extra = powershell_only.get(fn.name, {})
    allowed_missing = backend_only.get(fn.name, {})
    declared = {parameter.name: parameter for parameter in fn.parameters}
    for parameter in fn.parameters:
        location = f"{src.label}:{parameter.line}"
        if parameter.name in allowed_extra:
            continue
        if parameter.name in COMMON_PARAMETERS:
            found.append(Violation("schema", location, f"-{parameter.name} is a common parameter; do not declare it"))
            continue
        field_name = camel(parameter.name)
        if field_name not in properties:
            found.append(
                Violation("schema", location, f"-{parameter.name} has no '{field_name}' in {name}'s params {sorted(properties)}; add it to the allow-list with a reason if it is PowerShell-only")
            )
            continue
        prop = properties[field_name]
        problem = _type_problem(parameter, prop, params_schema)
        if problem:
            found.append(Violation("schema", location, f"-{parameter.name} {problem}"))
        enum = schema_enum(prop, params_schema)
        if enum is not None and parameter.validate_set != [str(value) for value in enum]:
            found.append(Violation("schema", location, f"-{parameter.name} ValidateSet {parameter.validate_set} must equal the schema enum {enum}"))
        if enum is None and parameter.validate_set is not None:
            found.append(Violation("schema", location, f"-{parameter.name} has a ValidateSet but the schema accepts any value"))
        bounds = [(variant.get("minimum"), variant.get("maximum")) for variant in _variants(prop, params_schema)]
        bounds = [pair for pair in bounds if pair != (None, None)]
        if bounds:
            low, high = bounds[0]
            if low is not None and high is not None and parameter.validate_range is None:
                found.append(Violation("schema", location, f"-{parameter.name} needs [ValidateRange({low}, {high})] like the schema"))
            elif parameter.validate_range is not None:
                if (low is not None and parameter.validate_range[0] != low) or (high is not None and parameter.validate_range[1] != high):
                    found.append(Violation("schema", location, f"-{parameter.name} ValidateRange{parameter.validate_range} differs from the schema ({low}, {high})"))
        if field_name in required and not parameter.mandatory:
            found.append(Violation("schema", location, f"-{parameter.name} is required by the backend: [Parameter(Mandatory = $true)]"))
        if parameter.has_default:
            if "default" not in prop:
                found.append(Violation("schema", location, f"-{parameter.name} has a PowerShell default, but only bound parameters are sent and the backend has none"))
            elif prop["default"] != parameter.default:
                found.append(Violation("schema", location, f"-{parameter.name} defaults to {parameter.default!r} here and to {prop['default']!r} in the backend"))
    for field_name in properties:
        if pascal(field_name) not in declared and field_name not in allowed_missing:
            found.append(Violation("schema", where, f"{name}'s parameter '{field_name}' has no -{pascal(field_name)}"))
    return found


# --------------------------------------------------------------------------------------------
# The manifest and the format file
# --------------------------------------------------------------------------------------------
def manifest_data(src: Source) -> dict[str, Any]:
    statements = _top_level_statements(src)
    if len(statements) != 1:
        raise NotLiteral("a manifest is one hashtable")
    value = evaluate(src, statements[0])
    if not isinstance(value, dict):
        raise NotLiteral("a manifest is one hashtable")
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def check_manifest(src: Source, public_functions: set[str]) -> list[Violation]:
    """Explicit exports (exactly the Public/ files, one per line), PowerShell 5.1, Desktop and Core."""
    where = f"{src.label}:1"
    try:
        data = manifest_data(src)
    except NotLiteral as exc:
        return [Violation("manifest", where, f"not a constant hashtable: {exc}")]
    found = []
    expected = {
        "RootModule": "PrefectWin.psm1",
        "PowerShellVersion": "5.1",
    }
    for key, value in expected.items():
        if data.get(key) != value:
            found.append(Violation("manifest", where, f"{key} must be {value!r}, not {data.get(key)!r}"))
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(data.get("ModuleVersion", ""))):
        found.append(Violation("manifest", where, f"ModuleVersion {data.get('ModuleVersion')!r} is not 'major.minor.patch'"))
    if _as_list(data.get("CompatiblePSEditions")) != ["Desktop", "Core"]:
        found.append(Violation("manifest", where, "CompatiblePSEditions must be 'Desktop', 'Core'"))
    if not re.fullmatch(r"[0-9a-fA-F-]{36}", str(data.get("GUID", ""))):
        found.append(Violation("manifest", where, "GUID is missing"))
    if FORMAT_FILE not in _as_list(data.get("FormatsToProcess")):
        found.append(Violation("manifest", where, f"FormatsToProcess must list {FORMAT_FILE}"))
    for key in ("CmdletsToExport", "AliasesToExport", "VariablesToExport"):
        if key not in data or _as_list(data[key]) != []:
            found.append(Violation("manifest", where, f"{key} must be @() (explicit, no wildcards)"))
    exported = _as_list(data.get("FunctionsToExport"))
    if any("*" in str(name) or "?" in str(name) for name in exported):
        found.append(Violation("manifest", where, "FunctionsToExport has a wildcard; list every function"))
    if len(exported) != len(set(exported)):
        found.append(Violation("manifest", where, "FunctionsToExport lists a function twice"))
    if set(exported) != public_functions:
        missing = sorted(public_functions - set(exported))
        extra = sorted(set(exported) - public_functions)
        found.append(Violation("manifest", where, f"FunctionsToExport must equal the Public/ files: missing {missing}, without a file {extra}"))
    if exported != sorted(exported, key=str.lower):
        found.append(Violation("manifest", where, "FunctionsToExport is not sorted; keep one name per line, in order"))
    found.extend(_one_name_per_line(src))
    return found


def _one_name_per_line(src: Source) -> list[Violation]:
    for entry in walk(src.root):
        if entry.type != "hash_entry":
            continue
        key = first_child(entry, "key_expression")
        if key is None or src.node_text(key).strip().lower() != "functionstoexport":
            continue
        lines = [node.start_point[0] for node in walk(entry) if node.type == "string_literal"]
        if len(lines) != len(set(lines)):
            return [Violation("manifest", src.where(entry), "FunctionsToExport: one name per line, so parallel additions merge cleanly")]
    return []


def result_models(command_schema: dict[str, Any]) -> list[set[str]]:
    """The property names of every object model in one command's result schema."""
    models: list[set[str]] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                models.append(set(node["properties"]))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(command_schema.get("result", {}))
    return models


def type_producers(sources: list[Source]) -> dict[str, set[str]]:
    """PrefectWin.<Type> name -> the backend commands of the cmdlets that return it."""
    producers: dict[str, set[str]] = {}
    for src in sources:
        for function in functions(src):
            commands = {call.command for call in function.backend_calls if call.command}
            for type_name in function.object_type_names:
                producers.setdefault(type_name, set()).update(commands)
    return producers


def check_format_file(label: str, text: str, schema: dict[str, Any], producers: dict[str, set[str]]) -> list[Violation]:
    """Each view is for a PrefectWin.<Type> some cmdlet returns, and its columns are the
    PascalCase properties of one object model in that cmdlet's command result."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        return [Violation("format", label, f"not XML: {exc}")]
    commands = schema.get("commands", {})
    found = []
    for view in root.iter("View"):
        name = view.findtext("Name", default="?")
        columns = {camel(element.text or "") for element in view.iter("PropertyName")}
        for type_name in (element.text or "" for element in view.iter("TypeName")):
            short = type_name[len("PrefectWin.") :] if type_name.startswith("PrefectWin.") else ""
            if not short or short not in producers:
                found.append(Violation("format", label, f"view {name}: no cmdlet returns {type_name} (ConvertTo-PrefectObject -TypeName)"))
                continue
            models = [model for command in sorted(producers[short]) for model in result_models(commands.get(command, {}))]
            if not any(columns <= model for model in models):
                closest = min(models, key=lambda model: len(columns - model), default=set())
                missing = sorted(pascal(column) for column in columns - closest)
                found.append(Violation("format", label, f"view {name}: {type_name} has no properties {missing} in {sorted(producers[short])}'s result"))
        headers = list(view.iter("TableColumnHeader"))
        items = list(view.iter("TableColumnItem"))
        if headers and len(headers) != len(items):
            found.append(Violation("format", label, f"view {name}: {len(headers)} headers for {len(items)} columns"))
    return found


# --------------------------------------------------------------------------------------------
# The session cmdlets, and files that must not depend on their own folder
# --------------------------------------------------------------------------------------------
def check_session_cmdlet(src: Source) -> list[Violation]:
    """Start-, Stop- and Get-PrefectSession: one function that calls exactly one session helper
    and no backend command, returns PrefectWin.Session, and asks ShouldProcess when it starts
    or stops something (the session's process is state, if only the module's own)."""
    defined = functions(src)
    if len(defined) != 1:
        return [Violation("session", f"{src.label}:1", "expected exactly one function")]
    fn = defined[0]
    where = f"{src.label}:{fn.line}"
    found = []
    helpers = [call.helper for call in fn.backend_calls]
    if len(helpers) != 1 or helpers[0] not in SESSION_HELPERS:
        found.append(Violation("session", where, f"calls {helpers}; a session cmdlet calls exactly one of {list(SESSION_HELPERS)}"))
    if fn.output_types != ["PrefectWin.Session"]:
        found.append(Violation("session", where, f"[OutputType] is {fn.output_types}, not 'PrefectWin.Session'"))
    changes = fn.name.partition("-")[0] in ("Start", "Stop")
    supports = (fn.cmdlet_binding or {}).get("SupportsShouldProcess", False) is True
    asks = "$PSCmdlet.ShouldProcess(" in src.node_text(fn.node)
    if changes and not (supports and asks):
        found.append(Violation("session", where, "starts or stops the backend: declare SupportsShouldProcess and call $PSCmdlet.ShouldProcess"))
    if not changes and (supports or asks):
        found.append(Violation("session", where, "changes nothing, yet asks ShouldProcess"))
    return found


def check_no_psscriptroot(src: Source) -> list[Violation]:
    """Public/ and Private/ files are inlined into one psm1 by './build.ps1 Build', where
    $PSScriptRoot is the module folder instead of Public/ or Private/: use
    $script:PrefectWinModuleRoot, which PrefectWin.psm1 sets in both layouts."""
    found = []
    for node in walk(src.root):
        if node.type == "variable" and src.node_text(node).lower() in ("$psscriptroot", "${psscriptroot}"):
            found.append(Violation("psscriptroot", src.where(node), "$PSScriptRoot changes meaning in the built module; use $script:PrefectWinModuleRoot"))
    return found


# --------------------------------------------------------------------------------------------
# DSC resource classes
# --------------------------------------------------------------------------------------------
# Properties every DSC resource block has already (OMI_BaseResource, and the configuration
# keyword's meta-properties): a resource property of the same name would be shadowed by them.
DSC_RESERVED_PROPERTIES = frozenset(
    name.lower()
    for name in ("DependsOn", "PsDscRunAsCredential", "ResourceId", "SourceInfo", "ModuleName", "ModuleVersion", "ConfigurationName")
)
SECRET_NAME = re.compile(r"(?i)pass(word|phrase)?|secret|token|api_?key|private_?key")
CREDENTIAL_TYPES = frozenset({"pscredential", "system.management.automation.pscredential"})


@dataclass
class ClassProperty:
    name: str
    line: int
    type: Optional[str]
    attributes: list[str]
    dsc_arguments: Optional[list[str]]  # None: no [DscProperty()]; else its argument names
    hidden: bool


@dataclass
class ClassMethod:
    name: str
    line: int
    return_type: Optional[str]
    static: bool
    parameters: int


@dataclass
class PsClass:
    name: str
    line: int
    dsc_resource: bool  # a blanked [DscResource()] stands right above it
    properties: list[ClassProperty]
    methods: list[ClassMethod]


def _type_text(src: Source, node: Optional[Node]) -> Optional[str]:
    literal = first_child(node, "type_literal") if node is not None else None
    spec = first_child(literal, "type_spec") if literal is not None else None
    return src.node_text(spec).strip() if spec is not None else None


def classes(src: Source) -> list[PsClass]:
    found = []
    for node in walk(src.root):
        if node.type != "class_statement":
            continue
        name_node = first_child(node, "simple_name")
        line = node.start_point[0]
        above = line - 1
        while above >= 0 and not src.lines[above].strip():
            above -= 1
        properties, methods = [], []
        for member in node.children:
            modifiers = [src.node_text(c).strip().lower() for c in children_of_type(member, "class_attribute")]
            if member.type == "class_property_definition":
                attributes = []
                dsc_arguments = None
                for attribute in children_of_type(member, "attribute"):
                    attribute_name = first_child(attribute, "attribute_name")
                    text = src.node_text(attribute_name).strip() if attribute_name is not None else "?"
                    attributes.append(text)
                    if text.lower() == "dscproperty":
                        positional, named = attribute_arguments(src, attribute)
                        dsc_arguments = [src.node_text(p) for p in positional] + list(named)
                variable = first_child(member, "variable")
                properties.append(
                    ClassProperty(
                        name=src.node_text(variable).lstrip("$") if variable is not None else "?",
                        line=member.start_point[0] + 1,
                        type=_type_text(src, member),
                        attributes=attributes,
                        dsc_arguments=dsc_arguments,
                        hidden="hidden" in modifiers,
                    )
                )
            elif member.type == "class_method_definition":
                method_name = first_child(member, "simple_name")
                parameter_list = first_child(member, "class_method_parameter_list")
                methods.append(
                    ClassMethod(
                        name=src.node_text(method_name) if method_name is not None else "?",
                        line=member.start_point[0] + 1,
                        return_type=_type_text(src, member),
                        static="static" in modifiers,
                        parameters=len(children_of_type(parameter_list, "class_method_parameter")) if parameter_list is not None else 0,
                    )
                )
        found.append(
            PsClass(
                name=src.node_text(name_node) if name_node is not None else "?",
                line=line + 1,
                dsc_resource=above in src.dsc_resource_lines,
                properties=properties,
                methods=methods,
            )
        )
    return found


def is_dsc_file(src: Source) -> bool:
    """A file with a [DscResource()] attribute or a [DscProperty()] property."""
    return bool(src.dsc_resource_lines) or any(p.dsc_arguments is not None for c in classes(src) for p in c.properties)


def dsc_resources(src: Source) -> list[PsClass]:
    return [c for c in classes(src) if c.dsc_resource]


def check_dsc_file(src: Source) -> list[Violation]:
    """Every class of a DSC file is a [DscResource()] with Key properties, one [DscProperty()]
    and a type per property, no secret in a plain property, no name DSC reserves, and the
    methods DSC calls: [T] Get(), [bool] Test(), [void] Set(), static [T[]] Export()."""
    if not is_dsc_file(src):
        return []
    found: list[Violation] = []
    defined = classes(src)
    class_lines = {c.line - 1 for c in defined}
    for line in src.dsc_resource_lines:
        following = line + 1
        while following < len(src.lines) and not src.lines[following].strip():
            following += 1
        if following not in class_lines:
            found.append(Violation("dsc", f"{src.label}:{line + 1}", f"{DSC_RESOURCE_ATTRIBUTE} is not followed by a class"))
    for cls in defined:
        where = f"{src.label}:{cls.line}"
        if not cls.dsc_resource:
            found.append(Violation("dsc", where, f"class {cls.name} in a DSC file has no {DSC_RESOURCE_ATTRIBUTE} on the line above it"))
            continue
        keys = [p for p in cls.properties if p.dsc_arguments is not None and "Key" in p.dsc_arguments]
        if not keys:
            found.append(Violation("dsc", where, f"{cls.name} has no [DscProperty(Key)] property"))
        for prop in cls.properties:
            at = f"{src.label}:{prop.line}"
            if prop.hidden:
                continue
            if prop.dsc_arguments is None:
                found.append(Violation("dsc", at, f"{cls.name}.{prop.name} is not a [DscProperty()]; make it hidden if DSC must not see it"))
            if len(prop.attributes) != 1:
                found.append(Violation("dsc", at, f"{cls.name}.{prop.name} has {len(prop.attributes)} attributes; give it one [DscProperty(...)] and a type"))
            if prop.type is None:
                found.append(Violation("dsc", at, f"{cls.name}.{prop.name} has no type"))
            unknown = set(prop.dsc_arguments or []) - {"Key", "Mandatory", "NotConfigurable"}
            if unknown:
                found.append(Violation("dsc", at, f"{cls.name}.{prop.name}: unknown DscProperty arguments {sorted(unknown)}"))
            if prop.name.lower() in DSC_RESERVED_PROPERTIES:
                found.append(Violation("dsc", at, f"{cls.name}.{prop.name}: every DSC resource block has {prop.name} already (a meta-property); rename it"))
            if SECRET_NAME.search(prop.name) and (prop.type or "").lower() not in CREDENTIAL_TYPES:
                found.append(Violation("dsc", at, f"{cls.name}.{prop.name} looks like a secret but is [{prop.type}]: a MOF keeps it in clear text; use a [PSCredential]"))
        methods = {(m.name.lower(), m.static): m for m in cls.methods}
        wanted = {
            ("get", False): cls.name,
            ("test", False): "bool",
            ("set", False): "void",
            ("export", True): cls.name + "[]",
        }
        for (method_name, static), return_type in wanted.items():
            method = methods.get((method_name, static))
            shown = f"{'static ' if static else ''}[{return_type}] {method_name.capitalize()}()"
            if method is None:
                found.append(Violation("dsc", where, f"{cls.name} has no {shown}"))
            elif (method.return_type or "").lower() != return_type.lower() or method.parameters:
                found.append(Violation("dsc", f"{src.label}:{method.line}", f"{cls.name}.{method.name} must be {shown}"))
    return found


def check_dsc_exports(manifest: Source, resources: list[str]) -> list[Violation]:
    """DscResourcesToExport is exactly the [DscResource()] classes of the root module, sorted,
    one per line."""
    where = f"{manifest.label}:1"
    try:
        data = manifest_data(manifest)
    except NotLiteral as exc:
        return [Violation("manifest", where, f"not a constant hashtable: {exc}")]
    exported = _as_list(data.get("DscResourcesToExport"))
    found = []
    if sorted(exported) != sorted(resources):
        found.append(Violation("manifest", where, f"DscResourcesToExport {exported} must equal the [DscResource()] classes of {ROOT_MODULE} {sorted(resources)}"))
    if exported != sorted(exported, key=str.lower):
        found.append(Violation("manifest", where, "DscResourcesToExport is not sorted"))
    return found


def check_dsc_configuration(src: Source, resources: dict[str, set[str]]) -> list[Violation]:
    """In a configuration script, each block of one of our resources (`PrefectService Name
    { Property = value ... }`) sets only properties the class has, or DSC meta-properties."""
    found = []
    meta = {"dependson", "psdscrunascredential"}
    for node, name, _ in _commands(src):
        declared = {k.lower(): k for k in resources}.get(name.lower())
        if declared is None:
            continue
        properties = {p.lower() for p in resources[declared]}
        elements = node.child_by_field_name("command_elements")
        blocks = [n for n in walk(elements) if n.type == "script_block_expression"] if elements is not None else []
        if not blocks:
            found.append(Violation("dsc-example", src.where(node), f"{name} block without {{ ... }}"))
            continue
        body = blocks[0]
        for statement in walk(body):
            if statement.type != "command":
                continue
            nearest = next((a for a in ancestors(statement) if a.type == "script_block_expression"), None)
            if nearest is None or nearest.id != body.id:
                continue
            target = statement.child_by_field_name("command_name")
            rest = statement.child_by_field_name("command_elements")
            if target is None or rest is None or not src.node_text(rest).lstrip().startswith("="):
                continue
            key = src.node_text(target).strip()
            if key.lower() not in properties | meta:
                found.append(Violation("dsc-example", src.where(statement), f"{declared} has no property {key}"))
    return found


# --------------------------------------------------------------------------------------------
# Examples in help: only parameters the cmdlet has
# --------------------------------------------------------------------------------------------
def example_code(text: str) -> str:
    """The code of one .EXAMPLE: its first paragraph, as Get-Help shows it after 'PS C:\\>'."""
    lines = []
    for line in text.strip("\n").splitlines():
        if not line.strip():
            break
        lines.append(line)
    return "\n".join(lines)


def about_snippets(text: str) -> list[tuple[int, str]]:
    """The commands of an about_*.help.txt, written as at a prompt: a line 'PS> code' starts a
    snippet and each following line '>> code' continues it (PowerShell's own prompts). Returns
    (1-based line, code) pairs."""
    snippets: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("PS> "):
            snippets.append((number, [stripped[4:]]))
        elif (stripped == ">>" or stripped.startswith(">> ")) and snippets and snippets[-1][0] + len(snippets[-1][1]) == number:
            snippets[-1][1].append(line.split(">>", 1)[1][1:])
    return [(number, "\n".join(lines)) for number, lines in snippets]


def check_example(code: str, label: str, cmdlets: dict[str, set[str]], must_call: Optional[str] = None) -> list[Violation]:
    """The example parses (bare-word lists are quoted, see the module docstring), each PrefectWin
    cmdlet in it is given only parameters it has (or common ones), and, for a cmdlet's own
    example, that cmdlet is called."""
    src = parse(code + "\n", label)
    found = [Violation("example", v.location, f"does not parse; quote bare-word lists ('a', 'b'): {v.message}") for v in check_syntax(src)]
    by_name = {name.lower(): (name, parameters) for name, parameters in cmdlets.items()}
    common = {p.lower() for p in COMMON_PARAMETERS}
    called = set()
    for node, name, _ in _commands(src):
        entry = by_name.get(name.lower())
        if entry is None:
            continue
        declared_name, parameters = entry
        called.add(declared_name)
        if name != declared_name:
            found.append(Violation("example", src.where(node), f"'{name}' is spelled '{declared_name}'"))
        elements = node.child_by_field_name("command_elements")
        for item in elements.named_children if elements is not None else []:
            if item.type != "command_parameter":
                continue
            parameter = src.node_text(item).lstrip("-").split(":")[0]
            if parameter.lower() not in {p.lower() for p in parameters} | common:
                found.append(Violation("example", src.where(item), f"{declared_name} has no parameter -{parameter}"))
    if must_call is not None and must_call not in called:
        found.append(Violation("example", f"{label}:1", f"the example does not call {must_call}"))
    return found
