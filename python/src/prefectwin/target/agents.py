"""Which agent answers a request: a fresh one per command, or, inside a `serve` session, one
warm agent per target interpreter, with Prefect imported once.

A warm agent is only kept while it answers as a fresh process would:
- every request carries its environment and working directory, and the agent reads Prefect's
  settings afresh for each (agent.py);
- what shapes the interpreter itself is fixed when it starts (PYTHON* variables, the locale,
  the dynamic loader's variables): a request that changes one gets a new agent;
- an agent that reports it is no longer like a fresh one (an import failed half-way, or the
  installed packages changed) is replaced.
If a warm agent has died since its last answer, the request is sent once more, to a new agent;
one that does not answer in time is ended, and the request fails.

serve.py calls `keep_warm()` when a session starts and `close_all()` when it ends; every agent
is also a child of system/processes.py, so a signal or the caller's death ends it too.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import threading
from typing import TYPE_CHECKING, Any, Iterator, Optional

if TYPE_CHECKING:
    from prefectwin.target.channel import Agent

_lock = threading.Lock()
_warm = False
_agents: dict[str, tuple[tuple, "Agent"]] = {}
# Read when the interpreter starts, so an agent cannot take a change to them on later.
_STARTUP_PREFIXES = ("PYTHON", "LC_", "LD_", "DYLD_")
_STARTUP_NAMES = ("LANG", "LANGUAGE")


def startup_key(env: dict[str, str]) -> tuple:
    return tuple(sorted((k, v) for k, v in env.items() if k.upper().startswith(_STARTUP_PREFIXES) or k.upper() in _STARTUP_NAMES))


def keep_warm() -> None:
    global _warm
    _warm = True


def close_all() -> None:
    """End every warm agent: the session is over."""
    global _warm
    with _lock:
        _warm = False
        agents = [agent for _, agent in _agents.values()]
        _agents.clear()
    for agent in agents:
        agent.close()


def warm_pids() -> list[int]:
    with _lock:
        return [agent.pid for _, agent in _agents.values() if agent.alive]


class Lease:
    """An agent lent for one command. `ask` restarts it once, transparently, if it was a warm
    one that has died since it last answered, or one that reports it is out of date."""

    def __init__(self, python: str, env: dict[str, str], cwd: Optional[str], timeout: float) -> None:
        self.python = python
        self.env = env
        self.cwd = cwd
        self.timeout = timeout
        self.agent: Optional["Agent"] = None
        self._pooled = False

    @property
    def hello(self) -> dict[str, Any]:
        assert self.agent is not None
        return self.agent.hello

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        """The agent's answer; the first one from an interpreter in this process also brings
        which settings its release holds secret (secrets.learn), which masking goes by."""
        from prefectwin import secrets

        target = self._target()
        if target is not None and not secrets.learned(target):
            fields["secretNames"] = True
        answer = self._ask(op, **fields)
        names = answer.pop("secretNames", None)
        if target is not None and isinstance(names, dict):
            secrets.learn(target, names.get("secret") or (), names.get("names") or ())
        return answer

    def _target(self) -> Optional[tuple[str, str]]:
        hello = self.agent.hello if self.agent is not None else None
        prefect = (hello or {}).get("prefect") or {}
        if not prefect.get("installed"):
            return None
        return (str((hello.get("python") or {}).get("executable")), str(prefect.get("version")))

    def _ask(self, op: str, **fields: Any) -> dict[str, Any]:
        from prefectwin import interrupts
        from prefectwin.target.channel import AgentStopped

        assert self.agent is not None
        cwd = self.cwd or _getcwd()
        if self.agent.answered and not self.agent.alive and interrupts.pending() is None:
            self._replace()
        try:
            answer = self.agent.ask(op, env=self.env, cwd=cwd, **fields)
        except AgentStopped:
            if not self.agent.answered or interrupts.pending() is not None:
                raise
            self._replace()  # a warm agent died during the request: once more, on a new one
            return self.agent.ask(op, env=self.env, cwd=cwd, **fields)
        if answer.get("stale"):
            self._replace()
            answer = self.agent.ask(op, env=self.env, cwd=cwd, **fields)
        return answer

    def _replace(self) -> None:
        from prefectwin.target.channel import Agent

        assert self.agent is not None
        old = self.agent
        old.close()
        self.agent = Agent(self.python, env=self.env, cwd=self.cwd, timeout=self.timeout)
        self.agent.lock.acquire()
        old.lock.release()
        if self._pooled:
            with _lock:
                for key, (_, agent) in list(_agents.items()):
                    if agent is old:
                        _agents[key] = (startup_key(self.env), self.agent)


def _interpreter_key(python: str, env: dict[str, str], cwd: Optional[str]) -> Optional[str]:
    """The file `python` names for this request: a bare name goes by the request's PATH, a
    relative path by its folder, so one warm agent never answers for another interpreter.
    None (no agent is kept) when it cannot be told."""
    if os.path.dirname(python):
        return os.path.normcase(os.path.abspath(os.path.join(cwd or _getcwd() or "", python)))
    found = shutil.which(python, path=env.get("PATH", os.defpath))
    return os.path.normcase(os.path.abspath(found)) if found else None


def _getcwd() -> Optional[str]:
    try:
        return os.getcwd()
    except OSError:  # it was deleted: the agent stays where it is
        return None


@contextlib.contextmanager
def lease(python: str, *, env: dict[str, str], cwd: Optional[str], timeout: float) -> Iterator[Lease]:
    """An agent of `python` for the duration of the block: the session's warm one when it is
    free and fits `env`, else a new one (kept warm afterwards in a session, ended otherwise)."""
    from prefectwin.target.channel import Agent

    lent = Lease(python, env, cwd, timeout)
    key, wanted = _interpreter_key(python, env, cwd), startup_key(env)
    stale: Optional["Agent"] = None
    with _lock:
        held = _agents.get(key) if key else None
        if _warm and held is not None:
            fits = held[0] == wanted and held[1].alive and not held[1].retired
            if fits and held[1].lock.acquire(blocking=False):
                lent.agent, lent._pooled = held[1], True
            elif not fits and held[1].lock.acquire(blocking=False):
                stale = held[1]  # one agent per interpreter: the new one takes its place
                del _agents[key]
    if stale is not None:
        stale.lock.release()
        stale.close()
    if lent.agent is None:
        # Busy (another thread of this command has it) or none yet: a new one.
        lent.agent = Agent(python, env=env, cwd=cwd or _getcwd(), timeout=timeout)
        lent.agent.lock.acquire()
        with _lock:
            if _warm and key and key not in _agents:
                _agents[key] = (wanted, lent.agent)
                lent._pooled = True
    try:
        yield lent
    finally:
        agent = lent.agent
        agent.lock.release()
        if not lent._pooled or agent.retired or not agent.alive:
            with _lock:
                for held_key, (_, held_agent) in list(_agents.items()):
                    if held_agent is agent:
                        del _agents[held_key]
            agent.close()
