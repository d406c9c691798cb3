"""The system adapter's shape: one protocol (prefectwin/system/protocol.py) that every adapter,
real or fake, implements whole and does not go beyond; adapters built from collaborators, not
base classes; and system modules that import each other without a cycle.

The Windows adapter is built here on a stand-in .NET object: nothing is loaded until a method
runs, so this checks its shape, not its behaviour on Windows (tests/system/test_windows_*.py and
tests/settings/test_*windows*.py do that against fake .NET surfaces)."""
from __future__ import annotations

import ast
import inspect
import pathlib
import re
import subprocess
import sys

import pytest
from fakes.adapter import FakeAdapter
from fakes.services import FakeServiceAdapter

import prefectwin.system as system
from prefectwin.system.posix import PosixAdapter
from prefectwin.system.protocol import SystemAdapter, protocol_methods
from prefectwin.system.windows import WindowsAdapter

SRC = pathlib.Path(system.__file__).resolve().parent.parent
SYSTEM_DIR = SRC / "system"
SYSTEM_MODULES = sorted(
    "prefectwin.system" + ("" if p.stem == "__init__" else "." + p.stem) for p in SYSTEM_DIR.glob("*.py")
)
# What a fake offers its tests beyond the protocol: reading back the calls and the state.
FAKE_INSPECTION = {"names", "calls_to", "changing_calls", "snapshot"}

ADAPTERS = {
    "windows": lambda: WindowsAdapter(net=object()),
    "posix": PosixAdapter,
    "fake": FakeAdapter,
    "fake-services": FakeServiceAdapter,
}


def public_methods(obj: object) -> set[str]:
    return {n for n in dir(type(obj)) if not n.startswith("_") and callable(getattr(type(obj), n))}


def shape(function: object) -> list[tuple[str, object, object]]:
    """Parameter names, kinds and defaults, without self."""
    params = list(inspect.signature(function).parameters.values())[1:]
    return [(p.name, p.kind, p.default) for p in params]


def test_the_protocol_lists_the_methods_the_code_calls():
    assert len(protocol_methods()) == len(set(protocol_methods())) > 30
    called: set[str] = set()
    for path in SRC.rglob("*.py"):
        if SYSTEM_DIR in path.parents:
            continue
        called |= set(re.findall(r"\badapter\.([A-Za-z_]\w*)", path.read_text(encoding="utf-8")))
    assert called - {"name"} == set(protocol_methods()), "a method called on an adapter is missing from the protocol, or the protocol has one nobody calls"


@pytest.mark.parametrize("kind", ADAPTERS)
def test_every_adapter_implements_the_whole_protocol_and_nothing_more(kind):
    adapter = ADAPTERS[kind]()
    assert isinstance(adapter, SystemAdapter)
    assert isinstance(adapter.name, str) and adapter.name
    offered = public_methods(adapter)
    if kind.startswith("fake"):
        offered -= FAKE_INSPECTION
    assert offered == set(protocol_methods())
    for method in protocol_methods():
        assert shape(getattr(type(adapter), method)) == shape(getattr(SystemAdapter, method)), method


def test_real_adapters_are_compositions_not_hierarchies():
    assert WindowsAdapter.__mro__ == (WindowsAdapter, object)
    assert PosixAdapter.__mro__ == (PosixAdapter, object)


def test_the_default_adapter_is_the_posix_one_here():
    assert sys.platform != "win32"
    previous = system._override
    system.use_adapter(None)
    try:
        assert isinstance(system.get_adapter(), PosixAdapter)
        fake = FakeAdapter()
        system.use_adapter(fake)
        assert system.get_adapter() is fake
    finally:
        system.use_adapter(previous)


def imported_modules(path: pathlib.Path) -> set[str]:
    """The prefectwin.system modules a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from prefectwin.system import processes` imports the submodule, not the package.
            subs = {f"{node.module}.{a.name}" for a in node.names}
            found |= (subs & set(SYSTEM_MODULES)) or {node.module}
    return {m for m in found if m in SYSTEM_MODULES}


def test_system_modules_import_each_other_without_a_cycle():
    graph = {
        ("prefectwin.system" + ("" if p.stem == "__init__" else "." + p.stem)): imported_modules(p)
        for p in SYSTEM_DIR.glob("*.py")
    }
    done: set[str] = set()

    def visit(module: str, stack: tuple[str, ...]) -> None:
        assert module not in stack, "import cycle: " + " -> ".join(stack + (module,))
        if module in done:
            return
        for target in graph[module]:
            visit(target, stack + (module,))
        done.add(module)

    for module in graph:
        visit(module, ())
    for module, targets in graph.items():
        if module.startswith("prefectwin.system.windows"):
            assert "prefectwin.system.posix" not in targets, module


@pytest.mark.parametrize("module", SYSTEM_MODULES)
def test_each_system_module_imports_alone_in_a_fresh_interpreter(module):
    # Off Windows, no module may need pythonnet just to be imported.
    code = f"import sys, {module}\nassert 'clr' not in sys.modules\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
