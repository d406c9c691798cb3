"""One exception type per protocol error code, and the single mapping to the wire format.

`category` is the name of a PowerShell ErrorCategory member, so the PowerShell side can
build an ErrorRecord without a lookup table of its own.
"""
from __future__ import annotations

from typing import Any, ClassVar, Optional


class PrefectWinError(Exception):
    code: ClassVar[str] = "Error"
    category: ClassVar[str] = "NotSpecified"
    exit_code: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        target: Optional[str] = None,
        remediation: Optional[str] = None,
        details: Optional[list[dict[str, Any]]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.target = target
        self.remediation = remediation
        self.details = details

    def to_wire(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "category": self.category,
            "message": self.message,
            "target": self.target,
            "remediation": self.remediation,
        }
        if self.details:
            error["details"] = self.details
        return error


class InvalidRequest(PrefectWinError):
    """The request itself is unusable: bad JSON, wrong types, unknown command or param."""

    code = "InvalidRequest"
    category = "InvalidArgument"
    exit_code = 2


class InvalidArgument(PrefectWinError):
    """The request is well-formed but a value makes no sense for this machine."""

    code = "InvalidArgument"
    category = "InvalidArgument"


class NotInstalled(PrefectWinError):
    code = "NotInstalled"
    category = "NotInstalled"


class PortInUse(PrefectWinError):
    code = "PortInUse"
    category = "ResourceBusy"


class ResourceBusy(PrefectWinError):
    """Something else holds what the command must change (a database a server has open)."""

    code = "ResourceBusy"
    category = "ResourceBusy"


class PermissionDenied(PrefectWinError):
    code = "PermissionDenied"
    category = "PermissionDenied"


class NotFound(PrefectWinError):
    code = "NotFound"
    category = "ObjectNotFound"


class OperationTimeout(PrefectWinError):
    code = "Timeout"
    category = "OperationTimeout"


class ProbeFailed(PrefectWinError):
    """The target interpreter could not be asked about Prefect."""

    code = "ProbeFailed"
    category = "InvalidResult"


class NotSupported(PrefectWinError):
    code = "NotSupported"
    category = "NotImplemented"


class ApplyFailed(PrefectWinError):
    """An action failed part-way; `details` lists what was rolled back."""

    code = "ApplyFailed"
    category = "InvalidOperation"


class InternalError(PrefectWinError):
    code = "InternalError"
    category = "NotSpecified"
