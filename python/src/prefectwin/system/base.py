"""The adapter interface. Both real adapters and the tests' fake implement it."""
from __future__ import annotations

from typing import Literal, Optional, Protocol

from prefectwin.diagnosis.facts import WindowsFacts

DriveKind = Literal["local", "mapped", "unc", "unknown"]


class SystemAdapter(Protocol):
    name: str

    def windows_facts(self) -> Optional[WindowsFacts]:
        """Admin rights, execution policy, firewall, Defender, long paths, NSSM; None off Windows."""

    def console_code_page(self) -> Optional[int]:
        """The console's output code page, where the OS has such a thing."""

    def drive_kind(self, path: str) -> tuple[DriveKind, Optional[str]]:
        """Whether a path is local, on a mapped drive or a UNC share, and the UNC it maps to."""
