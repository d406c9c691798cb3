"""A dialog with the target interpreter about its settings (runs `probe_settings.py` there).

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
from importlib import resources
from typing import Any, Optional

from prefectwin.diagnosis.probe import probe_source
from prefectwin.errors import NotInstalled, OperationTimeout, ProbeFailed
from prefectwin.system import processes

TIMEOUT_SEC = 60.0
# CreateProcess limits a command line to 32767 characters; the -c source must stay well below.
MAX_SOURCE_CHARS = 30000


def script_source() -> str:
    library = resources.files("prefectwin.diagnosis").joinpath("probe_script.py").read_text(encoding="utf-8")
    own = resources.files("prefectwin.settings").joinpath("probe_settings.py").read_text(encoding="utf-8")
    return probe_source(f"_PROBE_LIBRARY = {library!r}\n" + own)


class TargetSession:
    """`with TargetSession(python, env=..., cwd=...) as target: target.ask("describe")`."""

    def __init__(self, python: str, *, env: dict[str, str], cwd: Optional[str] = None, timeout: float = TIMEOUT_SEC) -> None:
        self.python = python
        self.env = env
        self.cwd = cwd
        self.timeout = timeout
        self.hello: dict[str, Any] = {}
        self._proc: Optional[subprocess.Popen] = None
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._stderr: list[str] = []

    def __enter__(self) -> "TargetSession":
        try:
            # Its own process group (a Job Object on Windows), ended as a whole on close.
            self._proc = processes.start(
                [self.python, "-c", script_source()],
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
        threading.Thread(target=self._pump, args=(self._proc.stdout, self._lines.put, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self._proc.stderr, self._stderr.append, False), daemon=True).start()
        self.hello = self._read()
        if not self.hello.get("prefect", {}).get("installed"):
            self.close()
            raise NotInstalled(
                f"Prefect is not installed in {self.hello.get('python', {}).get('executable') or self.python}.",
                target="params.pythonPath",
                remediation="Install it there ('python -m pip install \"prefect>=3,<4\" \"fastapi<0.155\"'), or pass another -PythonPath.",
            )
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @staticmethod
    def _pump(stream: Any, sink: Any, mark_end: bool) -> None:
        for line in stream:
            sink(line)
        if mark_end:
            sink(None)

    def _read(self) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            self.close(wait=False)
            raise OperationTimeout(
                f"{self.python} did not answer within {self.timeout:.0f} s.",
                target="params.pythonPath",
                remediation="Check that the interpreter starts (python -c \"import prefect\").",
            ) from None
        if line is None:
            self.close()
            tail = "".join(self._stderr).strip().splitlines()[-1:] or ["no output"]
            raise ProbeFailed(
                f"{self.python} stopped before answering: {tail[0][:300]}",
                target="params.pythonPath",
                remediation="Run the interpreter by hand to see the error; pass another one with -PythonPath.",
            )
        return json.loads(line)

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
                f"Prefect in {self.python} could not {op.replace('-', ' ')}: {answer.get('error')}",
                target="params.pythonPath",
                remediation="Fix the error Prefect reports (see 'prefect config view'), then try again.",
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


def open_session(
    python_path: Optional[str], profile: Optional[str] = None, *, env: Optional[dict[str, str]] = None, cwd: Optional[str] = None
) -> TargetSession:
    """A session with the interpreter Prefect runs under (default: the backend's own), in the
    backend's environment (or `env`), with PREFECT_PROFILE set when a profile is asked for."""
    env = dict(os.environ if env is None else env)
    if profile:
        env["PREFECT_PROFILE"] = profile
    return TargetSession(os.path.abspath(python_path) if python_path else sys.executable, env=env, cwd=cwd)
