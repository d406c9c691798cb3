"""The target interpreter: found, new enough for its Prefect, and free of spaces in its path."""
from __future__ import annotations

from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
from prefectwin.diagnosis.facts import Facts

INSTALL_PYTHON = "Install a 64-bit Python that Prefect supports (python.org or 'winget install Python.Python.3.12') and pass it with -PythonPath."


@check("python.found", "probe")
def python_found(facts: Facts):
    py = facts.python
    if not py.found:
        return fail(py.error or "No Python interpreter was found.", INSTALL_PYTHON, requestedPath=py.requested_path)
    version = ".".join(map(str, py.version or ()))
    return passed(f"Python {version} at {py.executable}.", executable=py.executable, version=version, venv=py.in_venv)


@check("python.version", "probe")
def python_version(facts: Facts):
    py, prefect = facts.python, facts.prefect
    if not py.found:
        return skipped("No interpreter to check; see python.found.")
    if not prefect.installed or not prefect.requires_python:
        return skipped("Prefect is not installed in this interpreter, so there is no Requires-Python to compare with; see prefect.installed.")
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    version = ".".join(map(str, py.version or ()))
    try:
        supported = version in SpecifierSet(prefect.requires_python)
    except InvalidSpecifier:
        return skipped(f"Prefect's Requires-Python '{prefect.requires_python}' could not be read.")
    data = dict(version=version, requiresPython=prefect.requires_python, prefectVersion=prefect.version)
    if supported:
        return passed(f"Python {version} satisfies Prefect {prefect.version}'s Requires-Python {prefect.requires_python}.", **data)
    return fail(
        f"Python {version} does not satisfy Prefect {prefect.version}'s Requires-Python {prefect.requires_python}.",
        f"Use a Python that matches {prefect.requires_python} for Prefect, and pass it with -PythonPath.",
        **data,
    )


@check("python.path-spaces", "probe")
def python_path_spaces(facts: Facts):
    py = facts.python
    if not py.found:
        return skipped("No interpreter to check; see python.found.")
    paths = {"executable": py.executable, "environment": py.prefix}
    spaced = {k: v for k, v in paths.items() if v and " " in v}
    if not spaced:
        return passed("The interpreter and environment paths contain no spaces.", **paths)
    return warn(
        f"Path with spaces: {', '.join(sorted(set(spaced.values())))}. Spaces have repeatedly broken Prefect's process launches on Windows.",
        r"Create the environment under a path without spaces, e.g. 'py -3.12 -m venv C:\Prefect\venv', and use that python.exe.",
        **paths,
    )
