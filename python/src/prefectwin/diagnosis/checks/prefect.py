"""Prefect in the target interpreter, and the `prefect` launcher on PATH.

Installed is not enough: a Prefect whose CLI dies at import (every service runs that CLI) is
broken, and the remediation names the cause: the module to install into that interpreter, or
the pins for a resolution known to be bad.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping, Optional

from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
from prefectwin.diagnosis.facts import Facts
from prefectwin.secrets import mask_url

SUPPORTED_MAJOR = 3
# The lowest release PrefectWin supports (README, python/pyproject.toml); tests/target/test_releases.py
# and tests/services/test_spec_on_releases.py run 3.1.15 as the oldest. 3.0.x is refused: it has no `python -m prefect` (no
# prefect/__main__.py), which is how every service starts Prefect, and it needs pydantic 2.9.
LOWEST_SUPPORTED = (3, 1, 0)
LOWEST_SUPPORTED_TEXT = "3.1"
# Pins that every release needs today: any Prefect 3 server before 3.9 dies at import with a
# fastapi that dropped Body(min_items=...).
BASE_PINS = ('"fastapi<0.155"',)
# A missing module's distribution, where the two names differ.
DISTRIBUTION_OF_MODULE = {"yaml": "PyYAML", "dateutil": "python-dateutil", "dotenv": "python-dotenv", "jwt": "PyJWT", "pkg_resources": "setuptools"}


def version_tuple(version: Optional[str]) -> Optional[tuple[int, int, int]]:
    """'3.4.25' -> (3, 4, 25); '3.1.0rc1' -> (3, 1, 0); None or junk -> None."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def pip_install(python: str, *requirements: str) -> str:
    wanted = requirements or (f'"prefect>={LOWEST_SUPPORTED_TEXT},<4"', *BASE_PINS)
    return f'"{python}" -m pip install {" ".join(wanted)}'


@dataclass(frozen=True)
class BadResolution:
    """A Prefect release range that breaks with a range of one dependency, and the fix."""

    prefect_below: tuple[int, int, int]
    prefect_from: tuple[int, int, int]
    dependency: str
    bad_from: tuple[int, int, int]
    effect: str
    pins: tuple[str, ...]
    server_only: bool = False


# Today's resolutions that are known to break a release, by ascending bad_from: the first rule
# of a dependency holds its most restrictive pin.
KNOWN_BAD = (
    # Measured with 3.1.15, 3.4.25 and 3.6.29: with fastapi 0.150.0 (starlette 1.10.0) the server
    # starts and answers /api/health, then every routed request with a 500 ('PrefectRouter'
    # object has no attribute 'routes'); with fastapi 0.115.14 (starlette 0.46.2) they work.
    # 3.7 and 3.8 are not measured; 3.9.1 requires fastapi>=0.139 and works with 0.150.
    BadResolution((3, 7, 0), LOWEST_SUPPORTED, "fastapi", (0, 116, 0), "'prefect server start' answers every request with an error", ('"fastapi<0.116"',), server_only=True),
    BadResolution((3, 9, 0), LOWEST_SUPPORTED, "fastapi", (0, 155, 0), "'prefect server start' fails at import (fastapi dropped Body(min_items=...))", BASE_PINS, server_only=True),
)


# Releases whose import needs importlib_metadata, which today's resolution no longer brings in
# (measured: 3.1.15 and 3.4.25 need it, 3.6.29 and 3.9.1 do not; installing it is harmless).
NEEDS_IMPORTLIB_METADATA_BELOW = (3, 5, 0)


def release_pins(version: Optional[str]) -> tuple[str, ...]:
    """The extra requirements that give a working install of `version` today, server included:
    the pins of each known-bad resolution of that release (the first, most restrictive rule per
    dependency), and importlib_metadata where the release needs it. None for another major."""
    release = version_tuple(version)
    if release is None or release[0] != SUPPORTED_MAJOR:
        return ()
    pins: list[str] = []
    pinned: set[str] = set()
    for rule in KNOWN_BAD:
        if rule.prefect_from <= release < rule.prefect_below and rule.dependency not in pinned:
            pinned.add(rule.dependency)
            pins.extend(rule.pins)
    if release < NEEDS_IMPORTLIB_METADATA_BELOW:
        pins.append("importlib_metadata")
    return tuple(dict.fromkeys(pins))


def known_bad(version: Optional[str], dependencies: Mapping[str, Optional[str]], *, server: bool = True) -> Optional[BadResolution]:
    """The rule `dependencies` break `version` by; of several, the one with the highest bad_from,
    whose effect is the one that installed version has."""
    release = version_tuple(version)
    if release is None:
        return None
    found = None
    for rule in KNOWN_BAD:
        installed = version_tuple(dependencies.get(rule.dependency))
        if rule.server_only and not server:
            continue
        if rule.prefect_from <= release < rule.prefect_below and installed is not None and installed >= rule.bad_from:
            found = rule
    return found


def pinned_install(python: str, version: str) -> str:
    """Every pin the release needs today, not only the broken one's: a fix that leaves the next
    known breakage in place is no fix."""
    return pip_install(python, f'"prefect=={version}"', *release_pins(version))


def supported_release_problem(version: Optional[str], python: str) -> Optional[tuple[str, str]]:
    """(message, remediation) when `version` is not a release PrefectWin supports, else None."""
    release = version_tuple(version)
    if release is not None and release[0] == SUPPORTED_MAJOR and release >= LOWEST_SUPPORTED:
        return None
    if release is not None and release[0] == SUPPORTED_MAJOR:
        message = f"Prefect {version} in {python} is older than {LOWEST_SUPPORTED_TEXT}, the lowest release PrefectWin supports."
    else:
        message = f"Prefect {version} is installed in {python}; PrefectWin manages Prefect 3 from {LOWEST_SUPPORTED_TEXT} on."
    return message, f"Upgrade it: {pip_install(python)}"


def broken_install_remediation(python: str, version: Optional[str], dependencies: Mapping[str, Optional[str]], missing_module: Optional[str]) -> str:
    """How to repair a Prefect that fails at import, by its cause."""
    rule = known_bad(version, dependencies)
    if rule is not None and version:
        return f"Install the pins that make Prefect {version} work: {pinned_install(python, version)}"
    if missing_module:
        top = missing_module.split(".")[0]
        return f"Install the missing module into that interpreter: {pip_install(python, DISTRIBUTION_OF_MODULE.get(top, top))}"
    release = f'"prefect=={version}"' if version else f'"prefect>={LOWEST_SUPPORTED_TEXT},<4"'
    return f"Reinstall Prefect into that interpreter: {pip_install(python, '--force-reinstall', release, *BASE_PINS)}"


def _same_dir(a: str, b: str) -> bool:
    return os.path.normcase(os.path.normpath(a)) == os.path.normcase(os.path.normpath(b))


def filesystem_remediation(path: Optional[str]) -> str:
    """What to do when Prefect could not read or write a file or folder: its install is fine."""
    return (
        (f"Check '{mask_url(path)}' and the folders above it: " if path else "Check the path Prefect names and the folders above it: ")
        + "each must be a folder (not a file) that you may write. "
        "Prefect finds its profiles file through PREFECT_PROFILES_PATH (default: PREFECT_HOME\\profiles.toml); point it, "
        "or PREFECT_HOME, at a folder that is one, then try again."
    )


@check("prefect.installed", "probe")
def prefect_installed(facts: Facts):
    py, prefect = facts.python, facts.prefect
    if not py.found:
        return skipped("No interpreter to check; see python.found.")
    python = py.executable or "python"
    data = dict(version=prefect.version, executable=py.executable)
    if not prefect.installed:
        return fail(f"Prefect is not installed in {python}.", pip_install(python), executable=py.executable)
    unsupported = supported_release_problem(prefect.version, python)
    if unsupported is not None:
        return fail(*unsupported, lowestSupported=LOWEST_SUPPORTED_TEXT, **data)
    # A setting, or a file Prefect could not read, is not the install's fault (settings.* say so).
    broken = prefect.cli_error or (prefect.settings_error if prefect.settings_error_kind not in ("settings", "filesystem") else None)
    if broken:
        what = "its 'prefect' command dies at import" if prefect.cli_error else "it fails at import"
        missing = prefect.cli_missing_module if prefect.cli_error else prefect.missing_module
        return fail(
            f"Prefect {prefect.version} is installed in {python}, but {what}: {broken}",
            broken_install_remediation(python, prefect.version, prefect.dependencies, missing),
            error=broken,
            missingModule=missing,
            **data,
        )
    rule = known_bad(prefect.version, prefect.dependencies, server=facts.role == "Server")
    if rule is not None and prefect.version:
        installed = prefect.dependencies.get(rule.dependency)
        return fail(
            f"Prefect {prefect.version} in {python} has {rule.dependency} {installed}, with which {rule.effect}.",
            f"Install the pins that make Prefect {prefect.version} work: {pinned_install(python, prefect.version)}",
            dependency=rule.dependency,
            dependencyVersion=installed,
            **data,
        )
    return passed(f"Prefect {prefect.version} is installed in {python}, and its CLI loads.", **data)


@check("prefect.cli-on-path", "probe", "cli")
def prefect_cli_on_path(facts: Facts):
    py, cli = facts.python, facts.cli
    if not py.found or not facts.prefect.installed:
        return skipped("Prefect is not installed in this interpreter; see prefect.installed.")
    scripts = py.scripts_dir
    data = dict(resolved=cli.resolved, scriptsDir=scripts)
    if cli.resolved is None:
        where = f"Add {scripts} to PATH" if cli.scripts_dir_launcher else f"Reinstall Prefect so {scripts} has a 'prefect' launcher, then add {scripts} to PATH"
        if facts.service is not None:
            # A service's PATH is the machine's and its account's, never the admin's user PATH.
            return warn(f"The 'prefect' command is not on the PATH of service {facts.service.name}.", f"{where.replace('to PATH', 'to the machine PATH')}, or use '{py.executable} -m prefect' in its flows.", **data)
        return warn("The 'prefect' command is not on PATH.", f"{where} (Repair-PrefectEnvironment can add it to the user PATH).", **data)
    if scripts and not _same_dir(os.path.dirname(cli.resolved), scripts):
        return warn(
            f"'prefect' on PATH is {cli.resolved}, which belongs to another Python than {py.executable}.",
            f"Put {scripts} before other Python directories on PATH, or call '{py.executable} -m prefect'.",
            **data,
        )
    return passed(f"'prefect' resolves to {cli.resolved}.", **data)
