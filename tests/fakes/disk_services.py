"""FakeServiceAdapter with its machine kept in a JSON file, so that a backend killed mid-apply
leaves its state on disk for the next process (tests/change/test_kill_recovery.py).

    adapter = DiskServiceAdapter(path)   loads the file (an empty machine if it is missing)
    adapter.snapshot()                   as FakeServiceAdapter's

Every state-changing call saves the whole machine (temp file, then rename) right after its
change. With kill_at=k the process SIGKILLs itself right after the k-th change is saved: the
OS change is done, the journal still says the step was started.
"""
from __future__ import annotations

import json
import os
import signal
from typing import Any, Optional

from fakes.services import CHANGING, FakeService, FakeServiceAdapter


class DiskServiceAdapter(FakeServiceAdapter):
    def __init__(self, path: str, *, kill_at: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.kill_at = kill_at
        self.saved_changes = 0
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                self._load(json.load(handle))

    def _load(self, state: dict[str, Any]) -> None:
        self.services = {
            key: FakeService(**{**value, "parameters": {k: tuple(v) for k, v in value["parameters"].items()}, "app_pids": tuple(value["app_pids"])})
            for key, value in state["services"].items()
        }
        self.directories = set(state["directories"])
        self.access = {tuple(pair) for pair in state["access"]}
        self.firewall = dict(state["firewall"])
        from prefectwin.services.secrets_file import FileAccess

        self.secret_files = dict(state.get("secret_files", {}))
        self.file_acls = {k: FileAccess.model_validate(v) for k, v in state.get("file_acls", {}).items()}

        self.firewall_scopes = {k: (tuple(v[0]), tuple(v[1])) for k, v in state.get("firewallScopes", {}).items()}
        self.readable = {tuple(pair) for pair in state.get("readable", [])}

    def state(self) -> dict[str, Any]:
        """The machine as JSON data (what the file holds)."""
        return json.loads(json.dumps(self.snapshot()))

    def save(self) -> None:
        temp = self.path + ".tmp"
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(self.snapshot(), handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)


def _saving(name: str):
    base = getattr(FakeServiceAdapter, name)

    def method(self: DiskServiceAdapter, *args: Any, **kwargs: Any) -> Any:
        result = base(self, *args, **kwargs)
        self.save()
        self.saved_changes += 1
        if self.kill_at == self.saved_changes:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    method.__name__ = name
    return method


for _name in CHANGING:
    setattr(DiskServiceAdapter, _name, _saving(_name))
