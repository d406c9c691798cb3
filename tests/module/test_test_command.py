"""The README's test command (its first code block, command 2) is the one .ci/run runs, verbatim."""
from __future__ import annotations

import re

from fixtures.common import REPO_ROOT

STATUS_SUFFIX = " || status=$?"


def readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block, "README.md has no ```bash block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def ci_test_lines() -> list[str]:
    text = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    return [line[: -len(STATUS_SUFFIX)] for line in text.splitlines() if line.endswith(STATUS_SUFFIX)]


def test_ci_runs_exactly_the_readmes_second_command() -> None:
    commands = readme_commands()
    assert len(commands) == 2, commands
    assert ci_test_lines() == [commands[1]]



def _pytest_options(command: str) -> list[str]:
    """The options after `pytest` that change how the suite runs (its worker count)."""
    words = command.replace("'", " ").replace(",", " ").split()
    return [w for i, w in enumerate(words) if w == "-n" or (i and words[i - 1] == "-n")]


def test_build_ps1_test_runs_pytest_with_the_readmes_worker_count() -> None:
    build = (REPO_ROOT / "build.ps1").read_text(encoding="utf-8")
    call = next(line for line in build.splitlines() if "'pytest'" in line and "Invoke-NativeCommand" in line)
    assert _pytest_options(call) == _pytest_options(readme_commands()[1]) == ["-n", "2"]
