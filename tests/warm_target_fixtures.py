"""A real `prefectwin serve` process driven one request at a time, and its target agents.

    with ServeSession(env) as session:
        session.ask("setting.get", {"name": ["PREFECT_API_URL"]}, environment=env, cwd=folder)
        session.agent_pids()   # the warm agents, as the operating system lists them
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import psutil

ANSWER_TIMEOUT_SEC = 180
_LEAKY = ("PYTHONIOENCODING", "PYTHONUTF8")


def base_environment(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any PREFECT_* variable, with PREFECT_HOME at `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k not in _LEAKY}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", **extra)
    return env


class ServeSession:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-X", "utf8", "-m", "prefectwin", "serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
        )
        self._lines: "queue.Queue[Optional[bytes]]" = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def __enter__(self) -> "ServeSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def ask(self, command: str, params: dict, *, environment: dict[str, str], cwd: Path, what_if: bool = False) -> dict:
        """The response to one request (its events skipped)."""
        self._next_id += 1
        document = {"id": self._next_id, "protocol": 1, "command": command, "params": params, "whatIf": what_if, "environment": environment, "cwd": str(cwd)}
        self.proc.stdin.write(json.dumps(document).encode() + b"\n")
        self.proc.stdin.flush()
        while True:
            line = self._lines.get(timeout=ANSWER_TIMEOUT_SEC)
            assert line is not None, f"serve ended: {self.proc.stderr.read().decode('utf-8', 'replace')[-2000:]}"
            record = json.loads(line)
            if "ok" in record:
                assert record["id"] == self._next_id, record
                return record

    def setting(self, name: str, *, environment: dict[str, str], cwd: Path, python: Optional[str] = None) -> tuple[Any, str, str]:
        """(value, source, profile) of one setting, through setting.get."""
        params: dict[str, Any] = {"name": [name]}
        if python:
            params["pythonPath"] = python
        answer = self.ask("setting.get", params, environment=environment, cwd=cwd)
        assert answer["ok"], answer
        (entry,) = answer["result"]
        return entry["value"], entry["source"], entry["profile"]

    def agent_pids(self) -> list[int]:
        """The serve process's children that run the agent (`python -c <agent>`)."""
        children = psutil.Process(self.proc.pid).children()
        return sorted(c.pid for c in children if "-c" in _cmdline(c))

    def close(self) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def config_view(python: str, *, env: dict[str, str], cwd: Path) -> dict[str, dict]:
    """The oracle: Prefect's own `prefect config view --show-sources -o json`, as its own
    process (releases from 3.4 on have `-o json`), by setting name."""
    done = subprocess.run(
        [python, "-m", "prefect", "config", "view", "--show-sources", "-o", "json"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=True,
    )
    document = json.loads(done.stdout[done.stdout.index("{"):])
    return {"profile": document.get("profile"), **{s["name"]: s for s in document["settings"]}}


def fresh_setting(name: str, *, environment: dict[str, str], cwd: Path, python: Optional[str] = None) -> tuple[Any, str, str]:
    """What a fresh one-shot `prefectwin rpc` process answers: what a session must equal."""
    params: dict[str, Any] = {"name": [name]}
    if python:
        params["pythonPath"] = python
    done = subprocess.run(
        [sys.executable, "-X", "utf8", "-m", "prefectwin", "rpc"],
        input=json.dumps({"protocol": 1, "command": "setting.get", "params": params}).encode(),
        env=environment, cwd=cwd, capture_output=True, timeout=ANSWER_TIMEOUT_SEC,
    )
    answer = json.loads(done.stdout)
    assert answer["ok"], answer
    (entry,) = answer["result"]
    return entry["value"], entry["source"], entry["profile"]
