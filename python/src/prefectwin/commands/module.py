"""`module.*`: facts about the backend itself."""
from __future__ import annotations

import sys

from prefectwin import PROTOCOL_VERSION, __version__
from prefectwin.models import Params, Result
from prefectwin.registry import Context, command


class VersionParams(Params):
    pass


class VersionResult(Result):
    version: str
    protocol: int
    python_version: str
    python_executable: str


@command("module.version", params=VersionParams, result=VersionResult)
def version(params: VersionParams, ctx: Context) -> VersionResult:
    """The backend's package and protocol versions, and the interpreter that runs it."""
    return VersionResult(
        version=__version__,
        protocol=PROTOCOL_VERSION,
        python_version=".".join(str(p) for p in sys.version_info[:3]),
        python_executable=sys.executable,
    )
