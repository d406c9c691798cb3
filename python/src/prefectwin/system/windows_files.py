"""Files only a service's account and Administrators may read: a service's secrets file.

Written atomically, and never readable by anyone else for a moment: an empty temporary file
beside the target gets the restricted security descriptor first (owner Administrators, DACL
protected from inheritance: SYSTEM and Administrators full control, the service's account read),
then the data, then it is renamed over the target. A rename within a volume keeps the file's
own descriptor, so the new file never carries the folder's inherited entries.

A collaborator of WindowsAdapter, through System.Security.AccessControl on the adapter's
DotNet (`files` view), which tests replace with a fake .NET surface.
"""
from __future__ import annotations

import os
import uuid
from typing import Any, Optional

from pydantic import SecretStr

from prefectwin.errors import PermissionDenied
from prefectwin.services.secrets_file import ADMINISTRATORS_SID, SYSTEM_SID, AccessEntry, FileAccess
from prefectwin.system.windows_net import DotNet


def write_atomically(path: str, data: bytes, restrict: Any, seal: Any = None) -> None:
    """Create an empty temporary file beside `path`, call `restrict(temp)`, write `data`, fsync,
    call `seal(temp)` if given (what may only be done once the data is in, e.g. taking the write
    bit away) and rename it over `path`. On any failure the temporary file goes and `path` is
    untouched."""
    folder = os.path.dirname(path) or "."
    temp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    os.close(fd)
    try:
        restrict(temp)
        with open(temp, "r+b") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if seal is not None:
            seal(temp)
        os.replace(temp, path)
    except BaseException:
        try:
            os.remove(temp)
        except OSError:
            pass
        raise


def read_text(path: str) -> Optional[SecretStr]:
    try:
        with open(path, "rb") as handle:
            return SecretStr(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except PermissionError:
        raise PermissionDenied(f"The secrets file '{path}' cannot be read.", target=path, remediation="Run PowerShell as administrator.") from None


class WindowsRestrictedFiles:
    def __init__(self, dotnet: DotNet) -> None:
        self.dotnet = dotnet

    @property
    def net(self) -> Any:
        return self.dotnet.files

    def _sid(self, value: str) -> Any:
        return self.net.SecurityIdentifier(value)

    def _security(self, reader: str) -> Any:
        net = self.net
        security = net.FileSecurity()
        security.SetAccessRuleProtection(True, False)  # no inherited entries, none kept
        security.SetOwner(self._sid(ADMINISTRATORS_SID))
        for sid in (SYSTEM_SID, ADMINISTRATORS_SID):
            security.AddAccessRule(net.FileSystemAccessRule(self._sid(sid), net.FileSystemRights.FullControl, net.AccessControlType.Allow))
        security.AddAccessRule(net.FileSystemAccessRule(net.NTAccount(reader), net.FileSystemRights.Read, net.AccessControlType.Allow))
        return security

    def write_restricted_file(self, path: str, content: SecretStr, reader: str) -> None:
        security = self._security(reader)  # an unknown account fails here, before any file exists
        write_atomically(path, content.get_secret_value().encode("utf-8"), lambda temp: self.net.FileInfo(temp).SetAccessControl(security))

    def read_restricted_file(self, path: str) -> Optional[SecretStr]:
        return read_text(path)

    def _name(self, identity: Any) -> str:
        try:
            return str(identity.Translate(self.net.NTAccountType).Value)
        except Exception:  # noqa: BLE001 - a SID without a name (a deleted account) stays a SID
            return str(identity.Value)

    def file_access(self, path: str, reader: str) -> Optional[FileAccess]:
        if not os.path.isfile(path):
            return None
        net = self.net
        security = net.FileInfo(path).GetAccessControl()
        try:
            reader_sid: Optional[str] = str(net.NTAccount(reader).Translate(net.SecurityIdentifierType).Value)
        except Exception:  # noqa: BLE001 - IdentityNotMappedException: no such account here
            reader_sid = None
        owner = security.GetOwner(net.SecurityIdentifierType)
        entries = tuple(
            AccessEntry(
                principal=self._name(rule.IdentityReference),
                sid=str(rule.IdentityReference.Value),
                rights=int(rule.FileSystemRights),
                allow=str(rule.AccessControlType) == "Allow",
            )
            for rule in security.GetAccessRules(True, True, net.SecurityIdentifierType)
        )
        return FileAccess(
            owner=self._name(owner) if owner is not None else None,
            owner_sid=str(owner.Value) if owner is not None else None,
            inherits=not bool(security.AreAccessRulesProtected),
            entries=entries,
            reader_sid=reader_sid,
        )
