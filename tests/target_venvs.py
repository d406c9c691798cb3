"""Real target interpreters with older Prefect releases, built once and cached.

Each one is a venv made from the pins that give a working install of that release (the
wheelhouse README lists them; today's resolution of an old release can be broken, exactly as
a user's fresh `pip install` would be). They live OUTSIDE the work tree, under

    ${PREFECTWIN_TEST_CACHE:-~/.cache/prefectwin-ci}/targets/<name>-<hash of the pins>

so a later run reuses them. A venv counts as built only once its `.complete` mark exists, which
is written after `pip install` succeeded; a folder without it (a killed build) is deleted and
built again. (It is built in place rather than renamed from a temporary folder: a venv's
launcher scripts, `prefect` among them, hard-code the folder they were installed in.)

Packages come from ../shared/wheelhouse next to the repository when it exists (then with no
index), followed by any folders the machine's own PIP_FIND_LINKS names; without a wheelhouse,
from the index pip is configured with. A build whose Prefect is not the pinned release (pip can
fall back to an older one when a dependency is missing) fails instead of being cached.

    python = target_python("3.4.25")     # the venv's interpreter, built if needed
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = REPO_ROOT.parent / "shared" / "wheelhouse"

OLDEST = "3.1.15"
NEWEST = "3.9.1"
# The target venvs, by name: the requirements that make each release install and run.
PINS: dict[str, tuple[str, ...]] = {
    "3.0.11": ("prefect==3.0.11", "pydantic==2.9.2", "fastapi<0.116", "importlib_metadata"),
    # Not the wheelhouse README's pins (they were checked with an import, not a request):
    # without importlib_metadata its CLI dies at import, and with fastapi 0.150 its server
    # starts but answers every request with a 500 ('PrefectRouter' object has no attribute
    # 'routes'). These are release_pins() in diagnosis/checks/prefect.py.
    "3.1.15": ("prefect==3.1.15", "fastapi<0.116", "importlib_metadata"),
    # Not the README's either: with fastapi 0.150 its server answers 500 as 3.1.15's does.
    "3.4.25": ("prefect==3.4.25", "fastapi<0.116", "importlib_metadata"),
    # The upgrade test's starting point (tests/services/test_upgrade.py); not the README's pin
    # either: with fastapi 0.150 its server answers 500 as 3.1.15's does.
    "3.6.29": ("prefect==3.6.29", "fastapi<0.116"),
    "3.9.1": ("prefect==3.9.1",),
    # A broken install on purpose: 3.4.25 without importlib_metadata, which no dependency of
    # today's resolution brings in; its one problem is that missing module.
    "3.4.25-broken": ("prefect==3.4.25", "fastapi<0.116"),
}
BUILD_TIMEOUT_SEC = 900
COMPLETE_MARK = ".complete"


def cache_root() -> Path:
    configured = os.environ.get("PREFECTWIN_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "prefectwin-ci"


def _key(name: str) -> str:
    pins = PINS[name]
    digest = hashlib.sha256("\n".join((sys.version.split()[0], *pins)).encode()).hexdigest()[:12]
    return f"{name}-{digest}"


def _bin(venv: Path) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin")


def _python(venv: Path) -> Path:
    return _bin(venv) / ("python.exe" if sys.platform == "win32" else "python")


# pip settings that would put the packages somewhere other than the venv being built.
_MISPLACING_PIP_SETTINGS = ("PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_USER", "PIP_SRC", "PIP_REQUIRE_VIRTUALENV", "PIP_CONSTRAINT", "PIP_REQUIREMENT")


def find_links(environment: dict[str, str]) -> list[str]:
    """Where pip looks for wheels: the wheelhouse first, then whatever the machine already adds
    (e.g. a folder of wheels a platform needs that the wheelhouse lacks), each once."""
    links = [str(WHEELHOUSE)] if WHEELHOUSE.is_dir() else []
    for link in environment.get("PIP_FIND_LINKS", "").split():
        if link not in links:
            links.append(link)
    return links


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k not in _MISPLACING_PIP_SETTINGS}
    links = find_links(os.environ)
    if links:
        env["PIP_FIND_LINKS"] = " ".join(links)
    if WHEELHOUSE.is_dir():
        env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SEC, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def build(name: str) -> Path:
    """The venv's interpreter; builds the venv first unless the cache has a complete one."""
    venv = cache_root() / "targets" / _key(name)
    complete = venv / COMPLETE_MARK
    if complete.exists():
        return _python(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with _locked(venv.parent / f"{venv.name}.lock"):
        if complete.exists():  # another process built it while this one waited
            return _python(venv)
        # A folder without the mark is what a killed build left: start again from nothing.
        shutil.rmtree(venv, ignore_errors=True)
        env = _pip_env()
        _run([sys.executable, "-m", "venv", str(venv)], env, f"python -m venv {venv}")
        _run([str(_python(venv)), "-m", "pip", "install", "-q", *PINS[name]], env, f"pip install {' '.join(PINS[name])}")
        _check_release(venv, name, env)
        complete.write_text("\n".join(PINS[name]) + "\n", encoding="utf-8")
    return _python(venv)


def _check_release(venv: Path, name: str, env: dict[str, str]) -> None:
    wanted = next(pin.partition("==")[2] for pin in PINS[name] if pin.startswith("prefect=="))
    done = subprocess.run(
        [str(_python(venv)), "-c", "import importlib.metadata as m; print(m.version('prefect'))"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    installed = done.stdout.strip()
    if installed != wanted:
        raise RuntimeError(f"{venv} got Prefect {installed or '(none)'} instead of {wanted}:\n{done.stderr[-3000:]}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder per venv at a time (pytest-xdist workers, two checkouts sharing the cache)."""
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: msvcrt locks a byte range instead
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def target_python(name: str) -> str:
    """pytest-facing: the interpreter, or the test fails with the build's output."""
    try:
        return str(build(name))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"could not build the Prefect {name} target venv: {exc}", pytrace=False)


if __name__ == "__main__":  # `python tests/target_venvs.py 3.1.15 3.9.1` builds them ahead of a run
    for requested in sys.argv[1:] or list(PINS):
        print(requested, build(requested))
