"""A dialog with the target interpreter about its settings (runs prefectwin/target/agent.py there).

This is the one module in `prefectwin.settings` that starts a process; everything else in the
package is pure. Requests and answers are JSON Lines over the child's stdin/stdout, so values
(and secrets) never appear in its argv.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from typing import Any, Optional

from prefectwin.errors import NotInstalled, NotSupported, OperationTimeout, ProbeFailed
from prefectwin.secrets import mask_url
from prefectwin.system import processes
from prefectwin.target.channel import agent_source, new_frame, noise_tail, parse_frame

TIMEOUT_SEC = 60.0


class TargetSession:
    """`with TargetSession(python, env=..., cwd=...) as target: target.ask("describe")`."""

    def __init__(self, python: str, *, env: dict[str, str], cwd: Optional[str] = None, timeout: float = TIMEOUT_SEC) -> None:
        self.python = python
        self.env = env
        self.cwd = cwd
        self.timeout = timeout
        self.hello: dict[str, Any] = {}
        self._proc: Optional[subprocess.Popen] = None
        self._frames: "queue.Queue[Optional[Any]]" = queue.Queue()
        self._stderr: list[str] = []
        self._noise: list[str] = []
        self._frame = new_frame()

    def __enter__(self) -> "TargetSession":
        try:
            # Its own process group (a Job Object on Windows), ended as a whole on close.
            self._proc = processes.start(
                [self.python, "-c", agent_source(self._frame)],
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as exc:
            raise ProbeFailed(
                f"{self.python} could not be started: {exc.strerror or exc}.",
                target="params.pythonPath",
                remediation="Pass the python.exe Prefect runs under with -PythonPath.",
            ) from None
        threading.Thread(target=self._pump_frames, args=(self._proc.stdout,), daemon=True).start()
        threading.Thread(target=self._pump, args=(self._proc.stderr, self._stderr.append), daemon=True).start()
        self.hello = self._read()
        problem = release_problem(self.hello)
        if problem is not None:
            self.close()
            raise problem
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @staticmethod
    def _pump(stream: Any, sink: Any) -> None:
        for line in stream:
            sink(line)

    def _pump_frames(self, stream: Any) -> None:
        """Framed answers to the queue; other stdout lines (a banner, a sitecustomize that
        prints) are kept aside, to explain a failure."""
        for line in stream:
            message = parse_frame(line, self._frame)
            if message is None:
                self._noise.append(line)
            else:
                self._frames.put(message)
        self._frames.put(None)

    def _read(self) -> dict[str, Any]:
        try:
            message = self._frames.get(timeout=self.timeout)
        except queue.Empty:
            self.close(wait=False)
            raise OperationTimeout(
                f"{self.python} did not answer within {self.timeout:.0f} s.",
                target="params.pythonPath",
                remediation="Check that the interpreter starts (python -c \"import prefect\").",
            ) from None
        if not isinstance(message, dict):
            self.close()
            tail = "".join(self._stderr).strip().splitlines()[-1:]
            noise = noise_tail(self._noise)
            why = tail[0][:300] if tail else (f"it printed only: {noise}" if noise else "no output")
            raise ProbeFailed(
                f"{self.python} stopped before answering: {why}",
                target="params.pythonPath",
                remediation="Run the interpreter by hand to see the error; pass another one with -PythonPath.",
            )
        return message

    def ask(self, op: str, **request: Any) -> dict[str, Any]:
        """Send one request; the answer's result, or ProbeFailed with the target's message."""
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps({"op": op, **request}) + "\n")
            self._proc.stdin.flush()
        except OSError:
            pass  # the read below reports the dead process with its stderr
        answer = self._read()
        if not answer.get("ok"):
            raise ProbeFailed(
                f"Prefect in {self.python} could not {op.replace('-', ' ')}: {mask_url(str(answer.get('error')))}",
                target="params.pythonPath",
                remediation=failure_remediation(self.hello, answer),
            )
        return answer["result"]

    def close(self, wait: bool = True) -> None:
        """End the dialog: closed stdin lets the target exit; then its whole tree is ended."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=10 if wait else 0)
        except subprocess.TimeoutExpired:
            pass
        processes.end_tree(proc)
        proc.wait()


def release_problem(hello: dict[str, Any]) -> Optional[Exception]:
    """Why the hello's interpreter cannot be asked about settings: no Prefect, or a release
    PrefectWin does not support. Decided by the diagnosis's own rules (checks/prefect.py)."""
    from prefectwin.diagnosis.checks.prefect import pip_install, supported_release_problem

    executable = (hello.get("python") or {}).get("executable") or "python"
    prefect = hello.get("prefect") or {}
    if not prefect.get("installed"):
        return NotInstalled(
            f"Prefect is not installed in {executable}.",
            target="params.pythonPath",
            remediation=f"Install it there ({pip_install(executable)}), or pass another -PythonPath.",
        )
    unsupported = supported_release_problem(prefect.get("version"), executable)
    if unsupported is not None:
        message, remediation = unsupported
        return NotSupported(message, target="params.pythonPath", remediation=remediation)
    return None


def failure_remediation(hello: dict[str, Any], answer: dict[str, Any]) -> str:
    from prefectwin.diagnosis.checks.prefect import broken_install_remediation

    executable = (hello.get("python") or {}).get("executable") or "python"
    prefect = hello.get("prefect") or {}
    if answer.get("errorKind") == "settings":
        return "Fix or remove the invalid setting Prefect names (see 'prefect config view'), then try again."
    return broken_install_remediation(executable, prefect.get("version"), prefect.get("dependencies") or {}, answer.get("missingModule"))


def open_session(
    python_path: Optional[str], profile: Optional[str] = None, *, env: Optional[dict[str, str]] = None, cwd: Optional[str] = None
) -> TargetSession:
    """A session with the interpreter Prefect runs under (default: the backend's own), in the
    backend's environment (or `env`), with PREFECT_PROFILE set when a profile is asked for."""
    env = dict(os.environ if env is None else env)
    if profile:
        env["PREFECT_PROFILE"] = profile
    return TargetSession(os.path.abspath(python_path) if python_path else sys.executable, env=env, cwd=cwd)
