"""Changing a target interpreter and its database, the same on every OS: pip, Prefect's own
migration command, and SQLite files. Both real adapters mix this in; the tests' fake replaces
it (tests/fakes/services.py), so an upgrade's plan and rollback are tested without pip.

Every child runs through `processes.run`: its own process group, ended on time-out or on a stop
signal, and never with anything secret on its argument list (the service's database URL travels
in the child's environment, as the service itself gets it).
"""
from __future__ import annotations

import os
import re
import subprocess
from typing import Optional, Sequence

from prefectwin.errors import ApplyFailed, OperationTimeout
from prefectwin.secrets import scrub

PIP_TIMEOUT_SEC = 900
MIGRATE_TIMEOUT_SEC = 600
VENV_TIMEOUT_SEC = 300
DESCRIBE_TIMEOUT_SEC = 30
# Printed by a base interpreter: what it really is (a launcher or a symlink resolves to it).
_DESCRIBE = "import sys; print(getattr(sys, '_base_executable', None) or sys.executable); print('%d.%d.%d' % sys.version_info[:3])"
# pip settings that would send packages somewhere other than the interpreter being changed.
_MISPLACING_PIP = ("PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_USER", "PIP_REQUIRE_VIRTUALENV", "PIP_CONSTRAINT", "PIP_REQUIREMENT")
_PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;@]+)$")


def _pip_environment(wheel_path: Optional[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_") and k.upper() not in _MISPLACING_PIP}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONUTF8"] = "1"
    if wheel_path:
        # Air-gapped: only the admin's folder, never an index the machine may half reach.
        env["PIP_NO_INDEX"] = "1"
        env["PIP_FIND_LINKS"] = wheel_path
    return env


def _tail(raw: Optional[bytes], secrets: Sequence[str] = ()) -> str:
    text = (raw or b"").decode("utf-8", "replace").strip().splitlines()
    return scrub(" | ".join(text[-6:]), *secrets)[-1500:]


def _run(argv: list[str], *, env: dict[str, str], cwd: Optional[str], timeout: float, what: str, secrets: Sequence[str] = ()) -> str:
    from prefectwin.system import processes

    try:
        done = processes.run(argv, env=env, cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OperationTimeout(f"{what} did not finish within {int(timeout)} s.", target=argv[0]) from None
    except OSError as exc:
        raise ApplyFailed(f"{what} could not start: {exc.strerror or exc}.", target=argv[0]) from None
    if done.returncode != 0:
        raise ApplyFailed(f"{what} failed (exit code {done.returncode}): {_tail(done.stderr, secrets) or _tail(done.stdout, secrets)}", target=argv[0])
    return (done.stdout or b"").decode("utf-8", "replace")


class InterpreterOps:
    """The collaborator both adapters delegate pip_freeze, pip_install, pip_uninstall,
    prefect_database_upgrade, sqlite_backup, sqlite_restore, create_venv and (for a command
    line each adapter chooses) the description of a base interpreter to."""

    def describe_python(self, launch: Sequence[str]) -> Optional[tuple[str, str]]:
        """(executable, X.Y.Z) of the interpreter `launch` starts (a python, or `py -3`), the executable
        being the base one a venv made from it names as its home (a venv of a venv: its base); None
        when it does not start or answers something else."""
        try:
            out = _run([*launch, "-c", _DESCRIBE], env=_pip_environment(None), cwd=None, timeout=DESCRIBE_TIMEOUT_SEC, what=f"{launch[0]} -c")
        except (ApplyFailed, OperationTimeout):
            return None
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        if len(lines) < 2 or not re.match(r"^\d+\.\d+\.\d+$", lines[-1]):
            return None
        return lines[-2], lines[-1]

    def create_venv(self, base_python: str, path: str) -> None:
        """`base -m venv PATH`: a venv with pip, never with the base's site-packages."""
        _run([base_python, "-m", "venv", path], env=_pip_environment(None), cwd=None, timeout=VENV_TIMEOUT_SEC, what=f"python -m venv {path}")

    def pip_freeze(self, python: str) -> list[str]:
        """The interpreter's distributions as `name==version`, what a rollback installs again.
        Editable and URL installs are left out: pip cannot fetch them by version."""
        out = _run([python, "-m", "pip", "freeze"], env=_pip_environment(None), cwd=None, timeout=120, what="pip freeze")
        return [line.strip() for line in out.splitlines() if _PINNED.match(line.strip())]

    def pip_install(self, python: str, requirements: Sequence[str], wheel_path: Optional[str], *, no_deps: bool = False) -> None:
        """`no_deps` for a complete recorded set (a rollback): nothing to resolve, only to install."""
        argv = [python, "-m", "pip", "install", "--no-input", "--quiet", *(["--no-deps"] if no_deps else []), *requirements]
        _run(argv, env=_pip_environment(wheel_path), cwd=None, timeout=PIP_TIMEOUT_SEC, what=f"pip install {requirements[0]}" + (" ..." if len(requirements) > 1 else ""))

    def pip_uninstall(self, python: str, names: Sequence[str]) -> None:
        if names:
            _run([python, "-m", "pip", "uninstall", "--yes", "--quiet", *names], env=_pip_environment(None), cwd=None, timeout=PIP_TIMEOUT_SEC, what="pip uninstall")

    def prefect_database_upgrade(self, python: str, environment: dict[str, str], cwd: Optional[str], secrets: Sequence[str] = (), launcher: Sequence[str] = ()) -> None:
        """`prefect server database upgrade --yes` in the service's own environment, so it
        migrates the database the service uses; through its launcher when it has one, which sets
        the secret variables (a PGPASSWORD) the service's Prefect has too."""
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PREFECT_")}
        env.update(environment)
        _run(
            [python, *launcher, "-m", "prefect", "server", "database", "upgrade", "--yes"],
            env=env,
            cwd=cwd if cwd and os.path.isdir(cwd) else None,
            timeout=MIGRATE_TIMEOUT_SEC,
            what="prefect server database upgrade",
            secrets=secrets,
        )

    def sqlite_backup(self, source: str, destination: str) -> None:
        from prefectwin.backup import sqlite

        sqlite.backup_online(source, destination)

    def sqlite_restore(self, backup: str, database: str) -> None:
        from prefectwin.backup import sqlite

        busy = sqlite.in_use(database)
        if busy:
            from prefectwin.errors import ResourceBusy

            raise ResourceBusy(f"The database '{database}' is still in use ({busy}).", target=database)
        sqlite.restore_copy(backup, database)
