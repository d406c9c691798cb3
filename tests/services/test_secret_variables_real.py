"""A real worker, started from its spec by the POSIX stand-in for NSSM, really has a secret
variable that is not a Prefect setting, while the stand-in's registry (its NSSM parameters), the
process's command line and the environment it was started with hold none of it.

The variable is HTTP_PROXY with credentials in its URL (secret by meaning), or given through
-SecretEnvironment. Prefect's client sends its requests through that proxy, so a recording proxy
on loopback sees the worker's Proxy-Authorization header: proof from the running process itself,
without a flow run. The plan is the real install plan (plan_install) carried out by the real
steps through the POSIX adapter, less what only Windows has (ACL grants, accounts).
"""
from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from pathlib import Path

import psutil
import pytest

from prefectwin.events import SilentEvents
from prefectwin.services.plan import plan_install
from prefectwin.services.spec import build_spec
from prefectwin.services.state import ServiceState
from prefectwin.system.posix import PosixAdapter
from prefectwin.system.posix_standin import StandInServices
from service_helpers import apply_plan, install_params
from target_venvs import target_python

PROXY_PASSWORD = "Bandicoot-pr0xy-5e"
WINDOWS_ONLY = {"grant-access", "revoke-access", "set-account", "set-failure-actions", "register-task"}


class RecordingProxy:
    """A loopback 'proxy' that keeps each request's Proxy-Authorization header and answers 502."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.5)
        self.port = self.listener.getsockname()[1]
        self.headers: list[str] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    head = conn.recv(65536).decode("latin-1")
                except OSError:
                    continue
                for line in head.split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "proxy-authorization":
                        self.headers.append(value.strip())
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.listener.close()


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("release, given", [("3.1.15", "environment"), ("3.9.1", "environment"), ("3.9.1", "secret_environment")])
def test_a_real_worker_has_the_secret_variable_that_only_its_secrets_file_holds(release, given, tmp_path, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)  # the stand-in passes the test's own environment on
    proxy = RecordingProxy()
    url = f"http://svc:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
    python = target_python(release)
    params = install_params(
        name="EnvSecretWorker",
        role="Worker",
        pool="envsecrets",
        api_url=f"http://127.0.0.1:{_unused_port()}/api",  # nobody there: the proxy answers first
        prefect_home=str(tmp_path / "home"),
        python_path=python,
        account="LocalSystem",
        **{given: {"HTTP_PROXY": url}},
    )
    spec = build_spec(params, python=python, default_home="/unused", host="testhost", flavor="posix")
    assert set(spec.secret_variables) == {"HTTP_PROXY"} and spec.launcher_file
    root = str(tmp_path / "services")
    adapter = PosixAdapter(services=StandInServices(root))
    planned = plan_install(spec, ServiceState(), start=True)
    kept = [a for a in planned if a.kind not in WINDOWS_ONLY]
    ids = {a.id for a in kept}
    kept = [a.model_copy(update={"depends_on": [d for d in a.depends_on if d in ids]}) for a in kept]
    assert {"write-secrets-file", "write-launcher", "start-service"} <= {a.kind for a in kept}
    try:
        apply_plan(kept, adapter, nssm=None, events=SilentEvents())
        deadline = time.monotonic() + 90
        record = adapter.read_service("EnvSecretWorker")
        while not proxy.headers and time.monotonic() < deadline and record.running:
            time.sleep(0.2)
            record = adapter.read_service("EnvSecretWorker")
        stderr = Path(spec.stderr_log).read_text(encoding="utf-8", errors="replace")[-3000:] if os.path.exists(spec.stderr_log) else ""
        assert proxy.headers, f"the worker sent nothing through the proxy; its stderr: {stderr}"
        assert proxy.headers[0] == "Basic " + base64.b64encode(f"svc:{PROXY_PASSWORD}".encode()).decode()
        # The registry's stand-in and what the process was started with hold no part of it.
        stored = "".join(p.read_text(encoding="utf-8") for p in Path(root).iterdir() if p.is_file())
        assert PROXY_PASSWORD not in stored and "HTTP_PROXY" not in stored
        process = psutil.Process(record.pid)
        assert process.cmdline()[1:4] == [spec.launcher_file, spec.secrets_file, "-m"]
        started_with = json.dumps(process.environ()) + " ".join(process.cmdline())
        assert PROXY_PASSWORD not in started_with and "HTTP_PROXY" not in process.environ()
        assert PROXY_PASSWORD not in stderr
        # Only the account (here: the user the stand-in runs it as) may read the files.
        for path in (spec.secrets_file, spec.launcher_file):
            assert os.stat(path).st_mode & 0o077 == 0
    finally:
        adapter.stop_service("EnvSecretWorker", 30)
        proxy.close()
