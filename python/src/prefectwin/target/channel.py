"""The agent (agent.py) as a process of the target interpreter, and its framed answers.

One protocol, whoever asks: the agent starts, sends a hello frame, then answers one request per
stdin line; every request carries the environment and working directory it is to be answered
in, so the same agent can answer many requests (a warm one, kept by target/agents.py in a
`serve` session) exactly as a fresh process would answer each. The agent's answers are the
stdout lines that carry this run's frame marker; anything else on stdout (a banner, a
sitecustomize that prints) is noise, kept only to explain a failure.
"""
from __future__ import annotations

import collections
import json
import os
import queue
import secrets
import subprocess
import threading
from importlib import resources
from typing import Any, Optional

# `python -c` puts '' (the working directory) first on sys.path, so a stray json.py or
# pydantic.py where the caller stands would be imported instead of the real module and the agent
# would misreport the target. Drop it before anything is imported. Prefect still reads .env and
# prefect.toml from the working directory: that goes by the cwd, not by sys.path.
_ISOLATE_IMPORTS = "import sys\nif sys.path and sys.path[0] == '':\n    del sys.path[0]\n"
# CreateProcess limits a whole command line to 32767 characters; the -c source must leave room
# for the interpreter's path. agent_source refuses to build a longer one.
MAX_SOURCE_CHARS = 30000
# What an agent wrote to stderr, kept to explain its death. A warm agent lives as long as the
# session, so only the last lines are kept.
_KEPT_LINES = 200


def new_frame() -> str:
    """A marker no stray output will carry by chance: a tag and a nonce. (No control
    characters: str.splitlines() would split a line at a record separator.)"""
    return f"@@prefectwin-{secrets.token_hex(8)}@@"


def agent_source(frame: str) -> str:
    """The `python -c` source: the prelude (sys.path isolation, the frame marker), then the agent."""
    agent = resources.files("prefectwin.target").joinpath("agent.py").read_text(encoding="utf-8")
    source = f"{_ISOLATE_IMPORTS}FRAME = {frame!r}\n{agent}"
    if len(source) > MAX_SOURCE_CHARS:
        # A packaging mistake, not a user's: Windows would refuse the command line.
        raise RuntimeError(f"the target agent is {len(source)} characters; a command line holds at most {MAX_SOURCE_CHARS}")
    return source


def parse_frame(line: str, frame: str) -> Optional[Any]:
    """The message a stdout line carries, or None for noise. The marker may follow stray text
    without a newline on the same line (a banner printed with end='')."""
    at = line.find(frame)
    if at < 0:
        return None
    try:
        return json.loads(line[at + len(frame):])
    except ValueError:
        return None


def noise_tail(lines: Any, limit: int = 200) -> str:
    text = " | ".join(line.strip() for line in lines if line.strip())
    return text[-limit:]


class AgentStopped(Exception):
    """The agent ended (or was never a Python agent) without the frame that was awaited."""

    def __init__(self, agent: "Agent") -> None:
        super().__init__("the target agent stopped")
        self.returncode = agent.returncode
        self.stderr_tail = [line.strip() for line in agent.stderr_lines if line.strip()][-1:]
        self.noise = noise_tail(agent.noise_lines)


class AgentTimedOut(Exception):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"no answer within {timeout} s")
        self.timeout = timeout


class Agent:
    """One agent process. `Agent(python, env=..., cwd=..., timeout=...)` starts it and reads its
    hello (raising OSError, AgentStopped or AgentTimedOut); `ask()` sends one request."""

    def __init__(self, python: str, *, env: dict[str, str], cwd: Optional[str], timeout: float) -> None:
        self.python = python
        self.timeout = timeout
        self.answered = 0
        # Set by an answer whose agent is no longer what a fresh process would be (an import
        # failed half-way): it answers the session it is in, then it is not reused.
        self.retired = False
        self.stderr_lines: "collections.deque[str]" = collections.deque(maxlen=_KEPT_LINES)
        self.noise_lines: "collections.deque[str]" = collections.deque(maxlen=_KEPT_LINES)
        self.lock = threading.Lock()
        self._frame = new_frame()
        self._frames: "queue.Queue[Optional[Any]]" = queue.Queue()
        from prefectwin.system import processes

        # `-c` rather than a script path, so no folder of ours goes on the target's sys.path.
        # Its own process group (a Job Object on Windows): ending it ends whatever it started.
        self._proc: Optional[subprocess.Popen] = processes.start(
            [python, "-c", agent_source(self._frame)],
            env=env,
            cwd=cwd if cwd and os.path.isdir(cwd) else None,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.pid = self._proc.pid
        self.returncode: Optional[int] = None
        self._readers = [
            threading.Thread(target=self._pump_frames, args=(self._proc.stdout,), daemon=True),
            threading.Thread(target=self._pump, args=(self._proc.stderr, self.stderr_lines.append), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        hello = self._read()
        if not isinstance(hello, dict) or not isinstance(hello.get("python"), dict):
            self._stopped()
        self.hello: dict[str, Any] = hello

    @staticmethod
    def _pump(stream: Any, sink: Any) -> None:
        for line in stream:
            sink(line)

    def _pump_frames(self, stream: Any) -> None:
        for line in stream:
            message = parse_frame(line, self._frame)
            if message is None:
                self.noise_lines.append(line)
            else:
                self._frames.put(message)
        self._frames.put(None)

    def _read(self) -> Any:
        try:
            message = self._frames.get(timeout=self.timeout)
        except queue.Empty:
            self.close(wait=False)
            raise AgentTimedOut(self.timeout) from None
        if message is None:
            self._stopped()
        return message

    def _stopped(self) -> None:
        self.close()
        raise AgentStopped(self)

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ask(self, op: str, *, env: dict[str, str], cwd: Optional[str], **fields: Any) -> dict[str, Any]:
        """The agent's answer to one request, answered in `env` and `cwd`: {"ok": true,
        "result": ...} or {"ok": false, "error": ..., ...}. Raises AgentStopped, AgentTimedOut."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise AgentStopped(self)
        try:
            proc.stdin.write(json.dumps({"op": op, "env": env, "cwd": cwd, **fields}) + "\n")
            proc.stdin.flush()
        except (OSError, ValueError):
            pass  # the read below reports the dead process with its stderr
        answer = self._read()
        if not isinstance(answer, dict):
            self._stopped()
        self.answered += 1
        self.retired = self.retired or bool(answer.get("retire"))
        return answer

    def close(self, wait: bool = True) -> None:
        """Closed stdin lets the agent exit; then its whole tree is ended."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5 if wait else 0)
        except subprocess.TimeoutExpired:
            pass
        from prefectwin.system import processes

        processes.end_tree(proc)
        self.returncode = proc.wait()
        # Its tree is gone, so its pipes are closed: what it wrote last (the reason it died) is
        # read to the end before anyone reports it.
        for reader in self._readers:
            reader.join(timeout=5)
