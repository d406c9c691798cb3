"""A dialog with the target interpreter about its settings (runs prefectwin/target/agent.py there).

This is the one module in `prefectwin.settings` that talks to a process; everything else in the
package is pure. Requests and answers are JSON Lines over the agent's stdin/stdout, so values
(and secrets) never appear in its argv. Inside a `serve` session the agent is a warm one
(target/agents.py), asked afresh with this session's environment and working directory.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Optional

from prefectwin.errors import NotInstalled, NotSupported, OperationTimeout, ProbeFailed
from prefectwin.secrets import mask_url
from prefectwin.target import agents
from prefectwin.target.channel import AgentStopped, AgentTimedOut

TIMEOUT_SEC = 60.0


class TargetSession:
    """`with TargetSession(python, env=..., cwd=...) as target: target.ask("describe")`."""

    def __init__(self, python: str, *, env: dict[str, str], cwd: Optional[str] = None, timeout: float = TIMEOUT_SEC) -> None:
        self.python = python
        self.env = env
        self.cwd = cwd
        self.timeout = timeout
        self._stack = contextlib.ExitStack()
        self._lease: Optional[agents.Lease] = None

    @property
    def hello(self) -> dict[str, Any]:
        assert self._lease is not None
        return self._lease.hello

    def __enter__(self) -> "TargetSession":
        try:
            with self._failures():
                self._lease = self._stack.enter_context(agents.lease(self.python, env=self.env, cwd=self.cwd, timeout=self.timeout))
        except BaseException:
            self._stack.close()
            raise
        problem = release_problem(self.hello)
        if problem is not None:
            self.close()
            raise problem
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _failures(self) -> Any:
        """The agent's failures as the errors a setting command reports."""
        try:
            yield
        except OSError as exc:
            raise ProbeFailed(
                f"{self.python} could not be started: {exc.strerror or exc}.",
                target="params.pythonPath",
                remediation="Pass the python.exe Prefect runs under with -PythonPath.",
            ) from None
        except AgentTimedOut:
            raise OperationTimeout(
                f"{self.python} did not answer within {self.timeout:.0f} s.",
                target="params.pythonPath",
                remediation="Check that the interpreter starts (python -c \"import prefect\").",
            ) from None
        except AgentStopped as stopped:
            why = stopped.stderr_tail[-1][:300] if stopped.stderr_tail else (f"it printed only: {stopped.noise}" if stopped.noise else "no output")
            raise ProbeFailed(
                f"{self.python} stopped before answering: {why}",
                target="params.pythonPath",
                remediation="Run the interpreter by hand to see the error; pass another one with -PythonPath.",
            ) from None

    def ask(self, op: str, **request: Any) -> dict[str, Any]:
        """Send one request; the answer's result, or ProbeFailed with the target's message."""
        assert self._lease is not None
        with self._failures():
            answer = self._lease.ask(op, **request)
        if not answer.get("ok"):
            raise ProbeFailed(
                f"Prefect in {self.python} could not {op.replace('-', ' ')}: {mask_url(str(answer.get('error')))}",
                target="params.pythonPath",
                remediation=failure_remediation(self.hello, answer),
            )
        return answer["result"]

    def close(self) -> None:
        """Give the agent back: a session keeps it warm, a one-shot command ends it."""
        self._lease = None
        self._stack.close()


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
    if answer.get("errorKind") == "filesystem":
        from prefectwin.diagnosis.checks.prefect import filesystem_remediation

        return filesystem_remediation(answer.get("path"))
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
