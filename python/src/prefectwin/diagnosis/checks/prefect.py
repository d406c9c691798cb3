"""Prefect in the target interpreter, and the `prefect` launcher on PATH."""
from __future__ import annotations

import os

from prefectwin.diagnosis.checks.base import check, fail, passed, skipped, warn
from prefectwin.diagnosis.facts import Facts

SUPPORTED_MAJOR = "3"


def _pip_install(python: str) -> str:
    return f'"{python}" -m pip install "prefect>=3,<4" "fastapi<0.155"'


def _same_dir(a: str, b: str) -> bool:
    return os.path.normcase(os.path.normpath(a)) == os.path.normcase(os.path.normpath(b))


@check("prefect.installed", "probe")
def prefect_installed(facts: Facts):
    py, prefect = facts.python, facts.prefect
    if not py.found:
        return skipped("No interpreter to check; see python.found.")
    if not prefect.installed:
        return fail(f"Prefect is not installed in {py.executable}.", _pip_install(py.executable or "python"), executable=py.executable)
    if not (prefect.version or "").startswith(SUPPORTED_MAJOR + "."):
        return fail(
            f"Prefect {prefect.version} is installed; PrefectWin manages Prefect 3.",
            _pip_install(py.executable or "python"),
            version=prefect.version,
        )
    return passed(f"Prefect {prefect.version} is installed in {py.executable}.", version=prefect.version, executable=py.executable)


@check("prefect.cli-on-path", "probe", "cli")
def prefect_cli_on_path(facts: Facts):
    py, cli = facts.python, facts.cli
    if not py.found or not facts.prefect.installed:
        return skipped("Prefect is not installed in this interpreter; see prefect.installed.")
    scripts = py.scripts_dir
    data = dict(resolved=cli.resolved, scriptsDir=scripts)
    if cli.resolved is None:
        where = f"Add {scripts} to PATH" if cli.scripts_dir_launcher else f"Reinstall Prefect so {scripts} has a 'prefect' launcher, then add {scripts} to PATH"
        return warn("The 'prefect' command is not on PATH.", f"{where} (Repair-PrefectEnvironment can add it to the user PATH).", **data)
    if scripts and not _same_dir(os.path.dirname(cli.resolved), scripts):
        return warn(
            f"'prefect' on PATH is {cli.resolved}, which belongs to another Python than {py.executable}.",
            f"Put {scripts} before other Python directories on PATH, or call '{py.executable} -m prefect'.",
            **data,
        )
    return passed(f"'prefect' resolves to {cli.resolved}.", **data)
