"""Shared pytest fixtures for the PrefectWin backend.

Real parts wherever this machine has them (a real `prefect server start`, real PostgreSQL,
real sockets and processes); fakes only for Windows-only calls (tests/fakes/).

Fixtures (see each docstring for details):

    free_port()                   session  callable -> an unused TCP port on 127.0.0.1
    prefect_home                  function a fresh, empty directory (sets nothing globally)
    _isolate_prefect_env          autouse  every test gets its own PREFECT_HOME/PREFECT_PROFILES_PATH,
                                           no inherited PREFECT_* (nor PYTHONIOENCODING/PYTHONUTF8),
                                           analytics off: nothing reads or writes ~/.prefect
    run_rpc(request, env=None, *, timeout=120, cwd=None)
                                  session  callable -> RpcResult; runs the REAL
                                           `python -X utf8 -m prefectwin rpc` subprocess
    neutral_cwd                   session  an empty folder, the default working directory of run_rpc
    prefect_server_factory(**env) module   callable -> PrefectServer; starts more servers (e.g. one
                                           on PostgreSQL); all are stopped at module end
    prefect_server                module   one real `prefect server start` (SQLite) per test module
    postgres_url                  session  str: a SQLAlchemy URL (postgresql+asyncpg://...) of a
                                           reachable PostgreSQL, from $PREFECTWIN_TEST_POSTGRES_URL
                                           (exported by .ci/run)
    throwaway_postgres            session  PostgresCluster: our own cluster (initdb/pg_ctl) on a
                                           free port, scram-sha-256, known password
    fake_adapter                  function FakeAdapter installed with prefectwin.system.use_adapter()

Availability rule for PostgreSQL: when a fixture cannot provide a server it SKIPS with the
reason outside CI, and FAILS when CI=true (CI must exercise the real thing). Set
PREFECTWIN_TEST_SKIP_POSTGRES=1 to skip on purpose (e.g. a CI job on a runner without
PostgreSQL binaries).
"""
from __future__ import annotations

import asyncio
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Union

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
IS_WINDOWS = sys.platform == "win32"

# Environment that must never leak from the developer's shell into a test.
_LEAKY_PREFIXES = ("PREFECT_",)
_LEAKY_NAMES = ("PYTHONIOENCODING", "PYTHONUTF8")

SERVER_START_TIMEOUT_SEC = 60
SERVER_STOP_GRACE_SEC = 10
DEFAULT_RPC_TIMEOUT_SEC = 120


# --------------------------------------------------------------------------------------------
# SIGTERM -> Ctrl-C
# --------------------------------------------------------------------------------------------
def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # `timeout`, CI runners and IDEs stop pytest with SIGTERM, which by default ends Python at
    # once: session fixtures (PostgreSQL clusters, Prefect servers) would be orphaned. As a
    # KeyboardInterrupt, pytest stops and tears them down.
    if not IS_WINDOWS and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip outside CI; fail in CI (CI=true), where a missing real part is a broken setup."""
    if os.environ.get("PREFECTWIN_TEST_SKIP_POSTGRES") == "1":
        pytest.skip(f"{reason} (PREFECTWIN_TEST_SKIP_POSTGRES=1)")
    if in_ci():
        pytest.fail(f"{reason}. CI=true, so this is a failure, not a skip: .ci/run must provide it.", pytrace=False)
    pytest.skip(reason)


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it; a race is possible but rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def clean_environ() -> dict[str, str]:
    """os.environ without the variables that would make a test depend on the developer's shell."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_LEAKY_PREFIXES) and k not in _LEAKY_NAMES
    }


def merge_env(base: Mapping[str, str], overrides: Optional[Mapping[str, Optional[str]]]) -> dict[str, str]:
    """base + overrides; an override of None removes the variable."""
    env = dict(base)
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# isolation
# --------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _isolate_prefect_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test runs with its own PREFECT_HOME and PREFECT_PROFILES_PATH (a not-yet-created
    folder under tmp_path), no PREFECT_API_URL, no other inherited PREFECT_* variable, no
    PYTHONIOENCODING/PYTHONUTF8, and Prefect's analytics off. Subprocesses inherit this.
    Returns the isolated PREFECT_HOME."""
    for key in list(os.environ):
        if key.startswith(_LEAKY_PREFIXES) or key in _LEAKY_NAMES:
            monkeypatch.delenv(key)
    home = tmp_path / "isolated-prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(home / "profiles.toml"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return home


@pytest.fixture
def prefect_home(tmp_path: Path) -> Path:
    """A fresh, existing, empty directory to use as PREFECT_HOME. It sets nothing: pass it
    yourself (env={"PREFECT_HOME": str(prefect_home)} or params={"prefectHome": ...})."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    return home


@pytest.fixture(scope="session")
def free_port() -> Callable[..., int]:
    """free_port(host="127.0.0.1") -> int: a TCP port nothing listens on right now."""
    return find_free_port


# --------------------------------------------------------------------------------------------
# the real bridge
# --------------------------------------------------------------------------------------------
@dataclass
class RpcResult:
    """One run of `python -X utf8 -m prefectwin rpc`.

    Unpacks as (code, response, stderr_lines). `response` is the parsed stdout object;
    `stderr_lines` are the parsed JSON Lines of stderr. The raw texts are kept for scans."""

    code: int
    response: Any
    stderr_lines: list[dict]
    stdout_text: str
    stderr_text: str

    def __iter__(self) -> Iterator[Any]:
        return iter((self.code, self.response, self.stderr_lines))

    @property
    def checks(self) -> dict[str, dict]:
        """environment.test only: the check results keyed by check name (asserts ok)."""
        assert self.response.get("ok") is True, self.response
        return {r["check"]: r for r in self.response["result"]}

    @property
    def error(self) -> dict:
        assert self.response.get("ok") is False, self.response
        return self.response["error"]


def rpc_call(
    request: Union[dict, list, str, bytes],
    env: Optional[Mapping[str, Optional[str]]] = None,
    *,
    timeout: float = DEFAULT_RPC_TIMEOUT_SEC,
    cwd: Optional[Union[str, Path]] = None,
    strict_stderr: bool = True,
) -> RpcResult:
    """Run the real backend with `request` on stdin (a dict/list is JSON-encoded, a str is
    UTF-8-encoded, bytes go as they are). `env` overrides the current environment (None
    removes a variable). Asserts the protocol's process-level promises on every call: exactly
    one JSON object on stdout, no traceback there, and (strict_stderr) every stderr line JSON."""
    if isinstance(request, (dict, list)):
        raw = json.dumps(request).encode("utf-8")
    elif isinstance(request, str):
        raw = request.encode("utf-8")
    else:
        raw = request
    argv = [PYTHON, "-X", "utf8", "-m", "prefectwin", "rpc"]
    try:
        done = subprocess.run(
            argv,
            input=raw,
            capture_output=True,
            env=merge_env(os.environ, env),
            cwd=str(cwd) if cwd else None,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"prefectwin rpc did not answer within {timeout} s: the bridge must never hang", pytrace=False)
    stdout = done.stdout.decode("utf-8")
    stderr = done.stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in stdout, f"traceback on stdout:\n{stdout}"
    assert stdout.endswith("\n") and stdout.count("\n") == 1, f"stdout must be exactly one JSON line, got:\n{stdout!r}\nstderr:\n{stderr}"
    response = json.loads(stdout)
    assert isinstance(response, dict), stdout
    lines = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            if strict_stderr:
                pytest.fail(f"stderr line is not JSON: {line!r}\nfull stderr:\n{stderr}", pytrace=False)
    return RpcResult(done.returncode, response, lines, stdout, stderr)


@pytest.fixture(scope="session")
def neutral_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty directory to run backends in. The probe runs Prefect in the caller's working
    directory (as a service would), so Prefect reads .env/prefect.toml/pyproject.toml there and
    `python -c` puts it first on sys.path: a shared folder like /tmp, where any stray
    timeit.py or .env lies about, must not be it."""
    return tmp_path_factory.mktemp("neutral-cwd")


@pytest.fixture(scope="session")
def run_rpc(neutral_cwd: Path) -> Callable[..., RpcResult]:
    """run_rpc(request, env=None, *, timeout=120, cwd=None, strict_stderr=True) -> RpcResult.

    Runs `<sys.executable> -X utf8 -m prefectwin rpc` for real. `env` entries override the
    (already isolated) environment; a None value removes a variable. The working directory
    defaults to `neutral_cwd`, an empty folder.
        code, response, stderr_lines = run_rpc({"protocol": 1, "command": "module.version"})
        result = run_rpc({...environment.test...}); result.checks["port.available"]["status"]
    """

    def run(request: Union[dict, list, str, bytes], env: Optional[Mapping[str, Optional[str]]] = None, **kwargs: Any) -> RpcResult:
        if kwargs.get("cwd") is None:
            kwargs["cwd"] = neutral_cwd
        return rpc_call(request, env, **kwargs)

    return run


# --------------------------------------------------------------------------------------------
# a real Prefect server
# --------------------------------------------------------------------------------------------
@dataclass
class PrefectServer:
    """A running `prefect server start`.

    api_url  http://127.0.0.1:<port>/api
    env      what a client needs: {"PREFECT_API_URL": ..., "PREFECT_HOME": <the server's home>}
    process  the subprocess.Popen (its pid owns the listening socket)
    """

    process: subprocess.Popen
    host: str
    port: int
    home: Path
    log_path: Path

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def env(self) -> dict[str, str]:
        return {"PREFECT_API_URL": self.api_url, "PREFECT_HOME": str(self.home)}

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)


def _get(url: str, timeout: float = 2.0) -> Optional[int]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _server_env(home: Path, overrides: Mapping[str, Optional[str]]) -> dict[str, str]:
    env = clean_environ()
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_PROFILES_PATH=str(home / "profiles.toml"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # No UI: nothing here looks at it, and the server skips building its static files.
        PREFECT_UI_ENABLED="false",
    )
    return merge_env(env, overrides)


def start_prefect_server(
    home: Path, *, env: Optional[Mapping[str, Optional[str]]] = None, timeout: float = SERVER_START_TIMEOUT_SEC
) -> PrefectServer:
    """Start `prefect server start --host 127.0.0.1 --port <free>` and wait for /api/health."""
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "server.log"
    port = find_free_port()
    kwargs: dict[str, Any] = {}
    if IS_WINDOWS:
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # so CTRL_BREAK reaches only it
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [PYTHON, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=_server_env(home, env or {}),
            cwd=str(home),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **kwargs,
        )
    server = PrefectServer(process=process, host="127.0.0.1", port=port, home=home, log_path=log_path)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"prefect server start exited with {process.returncode} before becoming healthy.\n"
                f"--- {log_path} (tail) ---\n{server.log_tail()}",
                pytrace=False,
            )
        if _get(f"{server.api_url}/health") == 200:
            return server
        if time.monotonic() > deadline:
            stop_prefect_server(server)
            pytest.fail(
                f"prefect server start on port {port} was not healthy within {timeout} s.\n"
                f"--- {log_path} (tail) ---\n{server.log_tail()}",
                pytrace=False,
            )
        time.sleep(0.2)


def stop_prefect_server(server: PrefectServer) -> Optional[int]:
    """Ctrl-C (SIGINT) for a clean shutdown, then kill after SERVER_STOP_GRACE_SEC."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.CTRL_BREAK_EVENT if IS_WINDOWS else signal.SIGINT)
        try:
            process.wait(SERVER_STOP_GRACE_SEC)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@pytest.fixture(scope="session")
def _prefect_db_template(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Optional[Path]]:
    """A migrated, empty SQLite database, made once per session on first use
    (`prefect server database upgrade -y`). Each server copies it, so only the first pays
    for the migrations (~5 s); later servers are healthy in ~3 s instead of ~10 s."""
    state: dict[str, Optional[Path]] = {}

    def get() -> Optional[Path]:
        if "path" not in state:
            home = tmp_path_factory.mktemp("prefect-db-template")
            done = subprocess.run(
                [PYTHON, "-m", "prefect", "server", "database", "upgrade", "-y"],
                env=_server_env(home, {}),
                cwd=str(home),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=300,
            )
            db = home / "prefect.db"
            # On failure fall back to letting each server migrate: its log will say what broke.
            state["path"] = db if done.returncode == 0 and db.is_file() else None
        return state["path"]

    return get


@pytest.fixture(scope="module")
def prefect_server_factory(
    tmp_path_factory: pytest.TempPathFactory, _prefect_db_template: Callable[[], Optional[Path]]
) -> Iterator[Callable[..., PrefectServer]]:
    """start(**env) -> PrefectServer. Each call starts one more real server with its own
    PREFECT_HOME; keyword arguments are extra environment variables for it (None removes
    one), e.g. start(PREFECT_SERVER_DATABASE_CONNECTION_URL=postgres_url). A SQLite server
    starts from a pre-migrated copy of the database. All are stopped at the end of the module."""
    started: list[PrefectServer] = []

    def start(**env: Optional[str]) -> PrefectServer:
        home = tmp_path_factory.mktemp("prefect-server-home")
        uses_sqlite = not any(
            env.get(k) for k in ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
        )
        template = _prefect_db_template() if uses_sqlite else None
        if template is not None:
            shutil.copyfile(template, home / "prefect.db")
        server = start_prefect_server(home, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_prefect_server(server)


@pytest.fixture(scope="module")
def prefect_server(prefect_server_factory: Callable[..., PrefectServer]) -> PrefectServer:
    """One real `prefect server start` (SQLite, analytics and UI off) on 127.0.0.1:<free>
    for the whole test module. Yields a PrefectServer: .api_url, .port, .home, .process,
    .env (PREFECT_API_URL + PREFECT_HOME for clients), .log_tail(). Stopped with SIGINT,
    killed if still alive 10 s later."""
    return prefect_server_factory()


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------
def _dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://...?opts) as a plain libpq URL for asyncpg."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(scheme="postgresql", query=""))


def _mask(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1********@", url)


async def _pg(url: str, sql: Optional[str] = None, timeout: float = 5.0) -> str:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url), timeout=timeout)
    try:
        if sql:
            await conn.execute(sql)
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def pg_execute(url: str, sql: Optional[str] = None, timeout: float = 5.0) -> str:
    """Run one SQL statement (or none) on `url`; returns the server version."""
    return asyncio.run(asyncio.wait_for(_pg(url, sql, timeout), timeout + 5))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://user:password@127.0.0.1:port/db) of a real,
    reachable PostgreSQL: $PREFECTWIN_TEST_POSTGRES_URL, which .ci/run exports for the cluster
    it starts. Unset or unreachable: skip outside CI, fail in CI."""
    url = os.environ.get("PREFECTWIN_TEST_POSTGRES_URL")
    if not url:
        unavailable("no PostgreSQL for the tests: PREFECTWIN_TEST_POSTGRES_URL is not set (bash .ci/run starts one and sets it)")
    try:
        pg_execute(url)
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        pytest.fail(
            f"PREFECTWIN_TEST_POSTGRES_URL={_mask(url)} is set but not usable: {type(exc).__name__}: {exc}",
            pytrace=False,
        )
    return url


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster the tests own. `user` is its superuser (password auth only)."""

    host: str
    port: int
    user: str
    password: str
    database: str
    bindir: Path
    datadir: Path
    version: str = ""
    _run_as: list[str] = field(default_factory=list, repr=False)

    def url(
        self,
        *,
        user: Optional[str] = None,
        password: Optional[str] = None,
        database: Optional[str] = None,
        port: Optional[int] = None,
        driver: str = "postgresql+asyncpg",
    ) -> str:
        """A connection URL; user and password are percent-encoded."""
        quote = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
        return (
            f"{driver}://{quote(user or self.user)}:{quote(self.password if password is None else password)}"
            f"@{self.host}:{port or self.port}/{database or self.database}"
        )

    def execute(self, sql: str) -> None:
        """Run one SQL statement as the superuser (e.g. CREATE ROLE ... PASSWORD '...')."""
        pg_execute(self.url(database="postgres"), sql)


def _postgres_bindir() -> Optional[Path]:
    candidates: list[str] = []
    if os.environ.get("PREFECTWIN_PG_BINDIR"):
        candidates.append(os.environ["PREFECTWIN_PG_BINDIR"])

    def version_key(path: str) -> tuple:
        return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True)
    if os.environ.get("PGBIN"):
        candidates.append(os.environ["PGBIN"])
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(initdb))
    exe = ".exe" if IS_WINDOWS else ""
    for directory in candidates:
        if os.path.isfile(os.path.join(directory, "initdb" + exe)) and os.path.isfile(os.path.join(directory, "pg_ctl" + exe)):
            return Path(directory)
    return None


THROWAWAY_PASSWORD = "Thr0waway-PG-pw-5d1e"


@pytest.fixture(scope="session")
def throwaway_postgres() -> Iterator[PostgresCluster]:
    """Our own PostgreSQL cluster: initdb in a temp folder, scram-sha-256 for every connection,
    superuser 'postgres' with the known password THROWAWAY_PASSWORD, database 'prefect',
    listening on 127.0.0.1:<free port> only (no Unix socket). As root, initdb/pg_ctl run as the
    'postgres' user through runuser (initdb refuses root). Stopped and deleted at session end.
    Binaries: $PREFECTWIN_PG_BINDIR, /usr/lib/postgresql/<newest>/bin, $PGBIN, or PATH.
    Not available: skip outside CI, fail in CI."""
    bindir = _postgres_bindir()
    if bindir is None:
        unavailable("no PostgreSQL server binaries (initdb, pg_ctl) found: install Debian's 'postgresql' package")
    run_as: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        import pwd

        try:
            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root, and there is no 'postgres' user to run initdb as")
        run_as = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="prefectwin-pg-"))
    if run_as:
        os.chown(root, pg_user.pw_uid, pg_user.pw_gid)
    datadir, log, pwfile = root / "data", root / "server.log", root / "pwfile"
    pwfile.write_text(THROWAWAY_PASSWORD + "\n", encoding="utf-8")
    if run_as:
        os.chown(pwfile, pg_user.pw_uid, pg_user.pw_gid)
    exe = ".exe" if IS_WINDOWS else ""

    def run(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*run_as, *argv], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    done = run(
        str(bindir / ("initdb" + exe)), "-D", str(datadir), "-U", "postgres", "--auth=scram-sha-256",
        f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync",
    )
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    pg_ctl = str(bindir / ("pg_ctl" + exe))
    started, port = False, 0
    for _attempt in range(3):  # the free port can be taken between choosing and binding it
        port = find_free_port()
        with open(datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        done = run(pg_ctl, "-D", str(datadir), "-l", str(log), "-w", "-t", "60", "start", timeout=90)
        if done.returncode == 0:
            started = True
            break
    if not started:
        tail = _tail(log)
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed:\n{done.stdout}\n{done.stderr}\n--- server log ---\n{tail}", pytrace=False)
    cluster = PostgresCluster(
        host="127.0.0.1", port=port, user="postgres", password=THROWAWAY_PASSWORD, database="prefect",
        bindir=bindir, datadir=datadir, _run_as=run_as,
    )
    try:
        cluster.version = pg_execute(cluster.url(database="postgres"), "CREATE DATABASE prefect")
        yield cluster
    finally:
        run(pg_ctl, "-D", str(datadir), "-m", "fast", "-w", "stop", timeout=60)
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# the system adapter
# --------------------------------------------------------------------------------------------
@pytest.fixture
def fake_adapter() -> Iterator[Any]:
    """A recording FakeAdapter (tests/fakes/adapter.py) installed as THE system adapter for
    in-process calls (prefectwin.rpc.handle, commands), restored afterwards. Configure it
    in the test: fake_adapter.windows = WindowsFacts(...), fake_adapter.fail_on["drive_kind"] =
    OSError(...), fake_adapter.returns["some_method"] = value; read fake_adapter.calls.
    (A subprocess started by run_rpc does NOT see it: it is in-process only.)"""
    import prefectwin.system as system
    from fakes.adapter import FakeAdapter

    previous = system._override
    adapter = FakeAdapter()
    system.use_adapter(adapter)
    try:
        yield adapter
    finally:
        system.use_adapter(previous)
