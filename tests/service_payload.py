"""Run a ServiceSpec's payload for real, the way NSSM will: the same program, arguments,
environment, working directory and log files, its secrets file written as the plan writes it
(through the real POSIX adapter; the environment carries no secret), stopped with Ctrl-C first
and the process tree killed after the spec's stop timeout.

On Linux, Ctrl-C to a console is SIGINT to the process group (every process in the console
gets it), which is what `stop()` sends; killing the tree is SIGKILL to every process in it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Optional

import psutil

from prefectwin.services.spec import ServiceSpec
from prefectwin.services.validate import service_environment

IS_WINDOWS = sys.platform == "win32"


def http(url: str, body: Any = None, timeout: float = 3.0) -> tuple[Optional[int], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST", headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


@dataclass
class Stopped:
    seconds: float
    graceful: bool
    returncode: Optional[int]
    tree: list[int] = field(default_factory=list)
    orphans: list[int] = field(default_factory=list)


class Payload:
    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.process: Optional[subprocess.Popen] = None
        self.started_at = 0.0

    def start(self) -> "Payload":
        spec = self.spec
        os.makedirs(spec.working_directory, exist_ok=True)
        os.makedirs(spec.log_directory, exist_ok=True)
        if spec.secrets_file:
            from prefectwin.system.posix import PosixAdapter

            PosixAdapter().write_restricted_file(spec.secrets_file, spec.secrets_text(), spec.account_principal)
        kwargs: dict[str, Any] = {}
        if IS_WINDOWS:
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            kwargs["start_new_session"] = True  # its own process group, like its own console
        with open(spec.stdout_log, "ab") as out, open(spec.stderr_log, "ab") as err:
            self.process = subprocess.Popen(
                [spec.application, *spec.arguments],
                env=service_environment(spec),
                cwd=spec.working_directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                **kwargs,
            )
        self.started_at = psutil.Process(self.process.pid).create_time()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for path in self.spec.log_paths:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    out.append(f"--- {path}\n" + "".join(handle.readlines()[-lines:]))
            except OSError as exc:
                out.append(f"--- {path}: {exc}")
        return "\n".join(out)

    def _interrupt(self) -> None:
        if IS_WINDOWS:
            self.process.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            os.killpg(self.pid, signal.SIGINT)

    def stop(self) -> Stopped:
        """Ctrl-C; after the spec's stop timeout, kill the whole tree (NSSM's AppKillProcessTree)."""
        assert self.process is not None
        tree = self.tree()
        began = time.monotonic()
        graceful = True
        self._interrupt()
        try:
            self.process.wait(self.spec.stop_timeout_ms / 1000)
        except subprocess.TimeoutExpired:
            graceful = False
            for proc in reversed(tree):
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            self.process.wait(10)
        seconds = time.monotonic() - began
        _, alive = psutil.wait_procs(tree, timeout=5)
        for proc in alive:
            proc.kill()
        return Stopped(seconds, graceful, self.process.returncode, [p.pid for p in tree], [p.pid for p in alive])

    def kill(self) -> None:
        """Cleanup after a failed test: no process may outlive it."""
        for proc in reversed(self.tree()):
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        if self.process is not None:
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                pass


def wait_for(predicate, timeout: float, what: str, payload: Optional[Payload] = None, interval: float = 0.2) -> float:
    began = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - began
        if payload is not None and not payload.alive():
            raise AssertionError(f"{what}: the process exited with {payload.process.returncode}\n{payload.log_tail()}")
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what}: not within {timeout} s\n{payload.log_tail() if payload else ''}")
        time.sleep(interval)


def server_ready(api_url: str) -> bool:
    return http(f"{api_url}/health")[0] == 200 and http(f"{api_url}/ready")[0] == 200


def worker_row(api_url: str, pool: str, name: str) -> Optional[dict]:
    status, workers = http(f"{api_url}/work_pools/{pool}/workers/filter", {})
    if status != 200:
        return None
    return next((w for w in workers or [] if w.get("name") == name), None)
