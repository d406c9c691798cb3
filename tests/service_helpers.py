"""Helpers shared by tests/services/test_*.py: building specs, and parsing a Windows command line."""
from __future__ import annotations

from typing import Any

from prefectwin.commands.service import ServiceInstallParams
from prefectwin.services.spec import ServiceSpec, build_spec

PYTHON = "C:\\Python312\\python.exe"
PROGRAM_DATA_HOME = "C:\\ProgramData\\Prefect"
HOST = "BOX1"


def install_params(**values: Any) -> ServiceInstallParams:
    values.setdefault("name", "PrefectServer")
    values.setdefault("role", "Server")
    return ServiceInstallParams(**values)


def windows_spec(local_server: Any = None, **values: Any) -> ServiceSpec:
    """A spec as the backend builds it on Windows (ntpath), from snake_case parameters."""
    return build_spec(install_params(**values), python=PYTHON, default_home=PROGRAM_DATA_HOME, host=HOST, flavor="windows", local_server=local_server)


def parse_windows_command_line(line: str) -> list[str]:
    """Split a command line the way the MS C runtime (and so python.exe) does on Windows."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        arg: list[str] = []
        quoted = False
        while i < n:
            c = line[i]
            if c == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                count = j - i
                if j < n and line[j] == '"':
                    arg.append("\\" * (count // 2))
                    if count % 2:
                        arg.append('"')
                        i = j + 1
                    else:
                        i = j
                else:
                    arg.append("\\" * count)
                    i = j
            elif c == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':
                    arg.append('"')
                    i += 2
                else:
                    quoted = not quoted
                    i += 1
            elif c in " \t" and not quoted:
                break
            else:
                arg.append(c)
                i += 1
        args.append("".join(arg))


def apply_plan(actions, adapter, *, nssm, events, journal=False):
    """Run planned service actions through the change engine, as service.install does."""
    from prefectwin.change import engine
    from prefectwin.change.model import new_plan
    from prefectwin.services.steps import STEPS, Runtime

    return engine.apply(new_plan(actions, {}), steps=STEPS, runtime=Runtime(adapter, nssm), events=events, journal=journal)
