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
        from prefectwin.secrets import mask_document

        # The one way out for every error: whatever a message quotes, no secret leaves here.
        return mask_document(error)


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


class PlanStale(PrefectWinError):
    """The machine changed between the plan that was shown and its apply; nothing was done."""

    code = "PlanStale"
    category = "InvalidOperation"


class Stopped(PrefectWinError):
    """A stop signal (Ctrl-C, SIGTERM, the caller going away) ended the command."""

    code = "Interrupted"
    category = "OperationStopped"


def stopped(exc: "BaseException") -> Stopped:
    """The answer for an interrupts.Interrupted: what was stopped, and in which state."""
    name = getattr(exc, "signal_name", "a signal")
    if getattr(exc, "forced", False):
        return Stopped(
            f"Stopped by a second {name} in the middle of a change; the step in progress may be half done.",
            target="request",
            remediation="Run the same command again to finish the change, or check the state it reports.",
        )
    details = getattr(exc, "details", None)
    if getattr(exc, "completed", False):
        message = f"Stopped by {name} once the change in progress was complete; nothing after it was started."
    elif details:
        message = f"Stopped by {name} in the middle of a change; the steps already done were undone (see details)."
    else:
        message = f"Stopped by {name} before any change was made."
    return Stopped(message, target="request", remediation="Run the command again to redo it.", details=details)


class InternalError(PrefectWinError):
    code = "InternalError"
    category = "NotSpecified"
