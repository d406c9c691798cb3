"""Linux and macOS: what is real here."""
from __future__ import annotations

import os
from typing import Optional

from prefectwin.system.base import DriveKind
from prefectwin.system.posix_config import PosixConfigMixin
from prefectwin.system.posix_services import PosixServices
from prefectwin.diagnosis.facts import WindowsFacts

# File systems on which SQLite's locking is unreliable: the Linux face of "PREFECT_HOME on SMB".
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "fuse.sshfs", "afs", "ceph", "glusterfs"})


class PosixAdapter(PosixConfigMixin, PosixServices):
    name = "posix"

    def windows_facts(self) -> Optional[WindowsFacts]:
        return None

    def console_code_page(self) -> Optional[int]:
        return None

    def drive_kind(self, path: str) -> tuple[DriveKind, Optional[str]]:
        if path.startswith(("\\\\", "//")):
            return "unc", path
        import psutil

        real = os.path.realpath(path)
        best = None
        for part in psutil.disk_partitions(all=True):
            mount = part.mountpoint
            if (real == mount or real.startswith(mount.rstrip("/") + "/")) and (
                best is None or len(mount) > len(best.mountpoint)
            ):
                best = part
        if best is not None and best.fstype in NETWORK_FILESYSTEMS:
            return "unc", best.device
        return "local", None
