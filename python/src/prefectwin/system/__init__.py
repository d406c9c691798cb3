"""The system adapter: the only code that asks the operating system platform-specific things.

Decision code (checks, planners) never imports this package; it receives facts instead.
The protocol every adapter implements is system/protocol.py.
"""
from __future__ import annotations

import sys
from typing import Optional

from prefectwin.system.protocol import SystemAdapter

_override: Optional[SystemAdapter] = None


def get_adapter() -> SystemAdapter:
    if _override is not None:
        return _override
    if sys.platform == "win32":
        from prefectwin.system.windows import WindowsAdapter

        return WindowsAdapter()
    from prefectwin.system.posix_standin import standin_root

    root = standin_root()
    if root:
        # Opt-in: services kept by the POSIX stand-in for the SCM (system/posix_standin.py).
        from prefectwin.system.posix import PosixAdapter
        from prefectwin.system.posix_standin import StandInServices

        return PosixAdapter(services=StandInServices(root))
    from prefectwin.system.posix import PosixAdapter

    return PosixAdapter()


def use_adapter(adapter: Optional[SystemAdapter]) -> None:
    """Install a replacement adapter (tests use a recording fake); None restores the default."""
    global _override
    _override = adapter
