"""Every secret setting of every supported release stays masked in every output.

For each release (real target venvs, tests/target_venvs.py), the settings model's SecretStr
fields are listed by a walk of the model written here (the oracle), and the agent's own list
(target/agent.py `_secret_names`, learned by the backend) must hold every one of them. Each name
then gets a canary value of its own, and one `serve` session per release (one warm agent,
through serve.answer, the session's own per-line function) drives:
- setting.set for each name: what-if, apply to a profile, apply in -Scope Process, a refused
  scope and an apply that fails (an unwritable profiles file);
- setting.get of them all; DSC PrefectSetting test, set (what-if) and get of each; a diagnosis
  and a repair plan with them all in the caller's environment; and service.install with all of them in -Environment against the
  fake service adapter: what-if, an apply whose NSSM call fails echoing every canary (rolled
  back), then an apply that succeeds, then service.get and an uninstall plan.
No canary may appear in any answer, plan, verbose/debug/warning/progress event, error, or
journal record written on the way. The values must still arrive where they were sent (the
profile, the fake service's environment, the -Scope Process hand-over to the wrapper): masking
is not losing them. The real-pwsh half (ShouldProcess text and every PowerShell stream) is
tests/SecretMasking.Tests.ps1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fakes.services import FakeServiceAdapter
from target_venvs import target_python

import prefectwin.system as system
from prefectwin import secrets, serve
from prefectwin.change import journal
from prefectwin.services.spec import RESERVED_KEYS
from prefectwin.target import agents

RELEASES = ("3.1.15", "3.4.25", "3.6.29", "3.9.1")
# Names every release from 3.1 on holds as secret (the list): the oracle must find them.
EXPECTED = {"PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING", "PREFECT_SERVER_DATABASE_PASSWORD"}

# Run in the target: the canonical environment name of every SecretStr field of the model,
# found by walking nested settings models (env_prefix + field name), independently of the agent.
ORACLE = r"""
import json, typing
from pydantic import BaseModel, SecretStr
from prefect.settings import Settings

def secret(kind):
    stack = [kind]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, SecretStr):
            return True
        stack.extend(typing.get_args(item))
    return False

found = []
def walk(model):
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            walk(kind)
        elif secret(kind):
            found.append((model.model_config.get("env_prefix") or "PREFECT_") + name.upper())
walk(Settings)
print(json.dumps(sorted(found)))
"""


def oracle(python: str) -> list[str]:
    out = subprocess.run([python, "-c", ORACLE], capture_output=True, text=True, timeout=120, check=True, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Session:
    """One `serve` session in this process: requests go through serve.answer, events and
    answers are kept as the lines the session would write."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self.env, self.cwd = env, cwd
        self.lines: list[dict[str, Any]] = []
        self.count = 0

    def ask(self, command: str, params: dict, *, what_if: bool = False, env: dict | None = None) -> dict:
        self.count += 1
        request = {"id": self.count, "protocol": 1, "command": command, "params": params, "whatIf": what_if, "cwd": self.cwd, "environment": {**self.env, **(env or {})}}
        events: list[dict] = []
        answer = serve.answer(json.dumps(request).encode(), events.append)
        self.lines.extend(events)
        self.lines.append(answer)
        return answer


@pytest.fixture(scope="module", params=RELEASES)
def release(request):
    return request.param, target_python(request.param)


def _leaks(text: str, canaries: dict[str, str]) -> list[str]:
    return [name for name, canary in canaries.items() if canary in text]


def test_every_secret_setting_is_masked_in_every_output(release, tmp_path, monkeypatch):
    version, python = release
    canonical = oracle(python)
    assert EXPECTED <= set(canonical), f"Prefect {version}'s model lost a secret the issue names: {sorted(EXPECTED - set(canonical))}"

    home = tmp_path / "home"
    home.mkdir()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tmp_path),
        "PREFECT_HOME": str(home),
        "PREFECTWIN_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    written: list[str] = []  # every journal record as it was written to disk
    real_write = journal.Journal._write

    def spy(self):
        real_write(self)
        written.append(Path(self.path).read_text(encoding="utf-8"))

    monkeypatch.setattr(journal.Journal, "_write", spy)
    adapter = FakeServiceAdapter()
    previous = system._override
    system.use_adapter(adapter)
    secrets.forget()
    agents.keep_warm()
    session = Session(env, str(tmp_path))
    try:
        first = session.ask("setting.get", {"pythonPath": python, "name": ["PREFECT_API_URL"]})
        assert first["ok"], first
        # The agent's list (what masking goes by) holds every SecretStr field, aliases too.
        reported = secrets.target_secret_names()
        assert set(canonical) <= reported, f"the agent missed {sorted(set(canonical) - reported)}"
        # Legacy aliases first: each is written under its canonical name, which comes last.
        names = sorted(reported, key=lambda n: (n in canonical, n))
        canaries = {name: f"Canary{index:02d}x{version.replace('.', '')}Qz" for index, name in enumerate(names)}

        handed_over: list[dict] = []
        for name, canary in canaries.items():
            setting = {"pythonPath": python, "name": name, "value": canary}
            assert session.ask("setting.set", setting, what_if=True)["ok"]
            applied = session.ask("setting.set", setting)
            assert applied["ok"] and applied["result"]["changed"], applied
            process = session.ask("setting.set", {**setting, "scope": "Process"})
            assert process["ok"], process
            handed_over.append(process["result"].pop("environment"))  # the wrapper's channel, checked below
            refused = session.ask("setting.set", {**setting, "scope": "Machine"})
            assert refused["error"]["code"] == "NotSupported"
        # The failing applies one after another: a failed apply retires the warm agent, and its
        # successor serves the next failure as well as it would the next name's what-if.
        for name, canary in canaries.items():
            failed = session.ask("setting.set", {"pythonPath": python, "name": name, "value": canary}, env={"PREFECT_PROFILES_PATH": str(blocked / "profiles.toml")})
            assert not failed["ok"], failed
        profiles = (home / "profiles.toml").read_text(encoding="utf-8")
        assert all(canaries[name] in profiles for name in canonical), "a value never reached the profile"
        for assignments, (name, canary) in zip(handed_over, canaries.items()):
            assert {a["value"] for a in assignments} >= {canary}, f"-Scope Process lost {name}'s value"

        listed = session.ask("setting.get", {"pythonPath": python, "name": names})
        # (In 3.1.15 the legacy PREFECT_API_DATABASE_* names are settings of their own, which
        # may read as unset once their PREFECT_SERVER_* successor is written.)
        assert listed["ok"] and all(s["isSecret"] and s["value"] in (secrets.MASK, None) for s in listed["result"] if s["name"] in canaries)
        assert any(s["value"] == secrets.MASK for s in listed["result"])

        for name in canonical:  # DSC PrefectSetting: the same values, already in place
            instance = {"name": name, "scope": "Profile", "value": canaries[name], "pythonPath": python}
            tested = session.ask("dsc.test", {"resource": "PrefectSetting", "properties": instance})
            assert tested["ok"] and tested["result"]["inDesiredState"] is True, tested
            assert session.ask("dsc.set", {"resource": "PrefectSetting", "properties": {**instance, "value": canaries[name] + "2"}}, what_if=True)["ok"]
            assert session.ask("dsc.get", {"resource": "PrefectSetting", "properties": instance})["ok"]
        # The caller's own environment holding every secret: a diagnosis and a repair plan.
        in_caller = {name: canary for name, canary in canaries.items() if "DATABASE" not in name}
        assert session.ask("environment.test", {"pythonPath": python}, env=in_caller)["ok"]
        assert session.ask("environment.repair", {"pythonPath": python}, what_if=True, env=in_caller)["ok"]

        environment = {name: canary for name, canary in canaries.items() if name not in RESERVED_KEYS}
        # Secrets that are not Prefect settings: by name, by URL credentials, and marked explicitly.
        variables = {"AWS_SECRET_ACCESS_KEY": "CanaryAwsKey7Qz", "DB_PASSWORD": "CanaryDbPw7Qz", "HTTPS_PROXY": "http://svc:CanaryProxy7Qz@proxy.example.com:8080"}
        marked = {"REPORTS_BUCKET_LINK": "CanaryMarked7Qz"}
        canaries.update({"AWS_SECRET_ACCESS_KEY": "CanaryAwsKey7Qz", "DB_PASSWORD": "CanaryDbPw7Qz", "HTTPS_PROXY": "CanaryProxy7Qz", "REPORTS_BUCKET_LINK": "CanaryMarked7Qz"})
        environment.update(variables)
        install = {"name": "PrefectServer", "role": "Server", "prefectHome": str(home), "port": 4791, "pythonPath": python, "environment": environment, "secretEnvironment": marked}
        plan = session.ask("service.install", install, what_if=True)
        assert plan["ok"], plan
        adapter.fail_on["nssm_set"] = RuntimeError("nssm echoed " + " ".join(environment.values()))
        broken = session.ask("service.install", install)
        assert broken["error"]["code"] == "ApplyFailed" and "nssm echoed" in json.dumps(broken), broken
        del adapter.fail_on["nssm_set"]
        done = session.ask("service.install", install)
        assert done["ok"] and done["result"]["changed"], done
        # What the service's Prefect reads: NSSM's environment, and the secrets file it names
        # (where a PREFECT_* secret goes instead of the registry).
        from prefectwin.services.secrets_file import file_values

        parameters = adapter.services["prefectserver"].parameters
        assert not _leaks(json.dumps(parameters, ensure_ascii=False), canaries), "a secret is in NSSM's registry values"
        stored = dict(e.partition("=")[::2] for e in parameters["AppEnvironmentExtra"])
        stored = {**file_values(adapter.secret_files[stored["PREFECT_PROFILES_PATH"]]), **stored}
        assert all(stored[name] == canary for name, canary in {**environment, **marked}.items()), "a value never reached the service"
        assert parameters["AppParameters"][0].split()[0].endswith(".launcher.py")  # which sets the variables that are not settings
        assert session.ask("service.get", {})["ok"]
        assert session.ask("service.uninstall", {"name": "PrefectServer"}, what_if=True)["ok"]
    finally:
        agents.close_all()
        system.use_adapter(previous)

    assert written, "no apply wrote a journal record: the journal went unchecked"
    shown = [json.dumps(line, ensure_ascii=False) for line in session.lines]
    assert any(secrets.MASK in line for line in shown)
    for line in shown:
        assert not _leaks(line, canaries), f"Prefect {version}: {_leaks(line, canaries)} leaked in {line[:500]}"
    for record in written:
        assert not _leaks(record, canaries), f"Prefect {version}: {_leaks(record, canaries)} leaked into the journal"
    kinds = {line.get("level") or ("progress" if "progress" in line else "answer") for line in session.lines}
    assert {"verbose", "progress", "answer"} <= kinds, kinds


def test_the_pattern_is_only_the_fallback():
    """Once a target has spoken, its release decides the names it defines; the pattern is left
    for the names no release defines, and for a process that has asked no target."""
    secrets.forget()
    try:
        assert secrets.is_secret_name("PREFECT_API_AUTH_STRING") and secrets.is_secret_name("AWS_SECRET_ACCESS_KEY")
        assert not secrets.is_secret_name("PREFECT_SERVER_API_PORT")
        secrets.learn(("python", "9.9"), ["PREFECT_NEW_SECRET_THING"], ["PREFECT_NEW_SECRET_THING", "PREFECT_TOKEN_COUNT", "PREFECT_API_URL"])
        assert secrets.is_secret_name("prefect_new_secret_thing")
        assert not secrets.is_secret_name("PREFECT_TOKEN_COUNT")  # the pattern would have said secret
        assert secrets.is_secret_name("AWS_SECRET_ACCESS_KEY")  # no release defines it
    finally:
        secrets.forget()


def test_a_request_masks_its_secrets_in_every_kind_of_output():
    from prefectwin.errors import ApplyFailed
    from prefectwin.events import Events
    import io

    stream = io.StringIO()
    with secrets.request_scope({"PREFECT_API_KEY": "pnu_Canary-Key", "PATH": "/usr/bin"}) as scope:
        scope.register("admin:Hush-Canary")
        Events(stream).verbose("key pnu_Canary-Key, auth admin:Hush-Canary, password Hush-Canary, FOO_PASSWORD=abc123")
        Events(stream).progress("Applying", "PREFECT_API_AUTH_STRING=whatever-it-is")
        error = ApplyFailed("nssm said admin%3AHush-Canary", remediation="postgresql://u:pw123@h/db").to_wire()
        answer = secrets.mask_document({"environment": {"PREFECT_API_KEY": "x" * 8}, "kept": "admin:Hush-Canary"}, keep=("kept",))
    text = stream.getvalue() + json.dumps(error) + json.dumps(answer["environment"])
    for secret in ("pnu_Canary-Key", "Hush-Canary", "abc123", "whatever-it-is", "pw123", "xxxxxxxx"):
        assert secret not in text, text
    assert answer["kept"] == "admin:Hush-Canary"  # a hand-over field is left whole
