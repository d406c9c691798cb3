"""A recording fake of prefectwin.system.base.SystemAdapter.

    adapter = FakeAdapter(windows=WindowsFacts(is_admin=True), code_page=1252,
                          drives={"Z:": ("mapped", r"\\\\fs01\\share")})
    adapter.drive_kind(r"Z:\\prefect")   # -> ("mapped", r"\\\\fs01\\share\\prefect")
    adapter.calls                        # [Call(name="drive_kind", args=("Z:\\prefect",), kwargs={})]

Failing on demand:
    FakeAdapter(fail_on={"windows_facts": PermissionError("denied")})   every call to that method
    FakeAdapter(fail_on_call={3: OSError("boom")})                      the 3rd call overall (1-based)
A failing call is recorded too (before it raises).

Methods beyond the base protocol (e.g. for a service family): configure `returns`:
    FakeAdapter(returns={"service_status": "Running"})   adapter.service_status("x") -> "Running"
A value that is callable is called with the arguments and its result returned. Calling a
method that is neither built in nor configured raises AttributeError, so a typo cannot pass.
"""
from __future__ import annotations

import ntpath
from typing import Any, Callable, NamedTuple, Optional


class Call(NamedTuple):
    name: str
    args: tuple
    kwargs: dict


class FakeAdapter:
    name = "fake"

    def __init__(
        self,
        *,
        windows: Any = None,
        code_page: Optional[int] = None,
        drives: Optional[dict[str, tuple[str, Optional[str]]]] = None,
        returns: Optional[dict[str, Any]] = None,
        fail_on: Optional[dict[str, BaseException]] = None,
        fail_on_call: Optional[dict[int, BaseException]] = None,
    ) -> None:
        #: WindowsFacts returned by windows_facts(); None means "not Windows" (like posix).
        self.windows = windows
        #: console_code_page() answer.
        self.code_page = code_page
        #: path prefix -> (kind, UNC root). The longest matching prefix wins (case-insensitive);
        #: for a UNC root the rest of the path is appended. Unmatched paths are ("local", None).
        self.drives = dict(drives or {})
        self.returns = dict(returns or {})
        self.fail_on = dict(fail_on or {})
        self.fail_on_call = dict(fail_on_call or {})
        self.calls: list[Call] = []

    # -- recording ------------------------------------------------------------------------
    def _record(self, name: str, args: tuple, kwargs: dict) -> None:
        self.calls.append(Call(name, args, dict(kwargs)))
        exc = self.fail_on_call.get(len(self.calls))
        if exc is None:
            exc = self.fail_on.get(name)
        if exc is not None:
            raise exc

    def names(self) -> list[str]:
        """The names of the calls made, in order."""
        return [c.name for c in self.calls]

    def calls_to(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    # -- the SystemAdapter protocol ----------------------------------------------------------
    def windows_facts(self):
        self._record("windows_facts", (), {})
        return self.windows

    def console_code_page(self) -> Optional[int]:
        self._record("console_code_page", (), {})
        return self.code_page

    def drive_kind(self, path: str) -> tuple[str, Optional[str]]:
        self._record("drive_kind", (path,), {})
        if "drive_kind" in self.returns:
            return self._configured("drive_kind", (path,), {})
        match = max(
            (p for p in self.drives if ntpath.normcase(path).startswith(ntpath.normcase(p))),
            key=len,
            default=None,
        )
        if match is None:
            return "local", None
        kind, unc_root = self.drives[match]
        if unc_root is None:
            return kind, None
        return kind, unc_root.rstrip("\\") + path[len(match):]

    # -- anything else a command family adds -------------------------------------------------
    def _configured(self, name: str, args: tuple, kwargs: dict) -> Any:
        value = self.returns[name]
        return value(*args, **kwargs) if callable(value) else value

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in self.__dict__.get("returns", {}):
            raise AttributeError(f"FakeAdapter has no method {name!r}; configure it with returns={{{name!r}: ...}}")

        def method(*args: Any, **kwargs: Any) -> Any:
            self._record(name, args, kwargs)
            return self._configured(name, args, kwargs)

        method.__name__ = name
        return method
