"""The stderr side channel: JSON Lines that PowerShell maps to its Write-* streams.

stdout is reserved for the single response object, so nothing else may ever print there.
Every event is masked here (secrets.mask_document), whatever wrote it and whichever stream
(stderr, or serve's stdout lines) it goes to: subclasses override `_emit`, not this.
"""
from __future__ import annotations

import json
import sys
import threading
from typing import IO, Optional


class Events:
    def __init__(self, stream: Optional[IO[str]] = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def _emit(self, record: dict) -> None:
        stream = self._stream or sys.stderr
        try:
            line = json.dumps(record, ensure_ascii=True, allow_nan=False, default=str)
        except ValueError:  # a NaN in a message's data: still one line of strict JSON
            from prefectwin.wire import dumps_line

            line = dumps_line(record).decode("utf-8").rstrip("\n")
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def _publish(self, record: dict) -> None:
        from prefectwin.secrets import mask_document

        self._emit(mask_document(record))

    def verbose(self, message: str) -> None:
        self._publish({"level": "verbose", "message": message})

    def warning(self, message: str) -> None:
        self._publish({"level": "warning", "message": message})

    def information(self, message: str) -> None:
        self._publish({"level": "information", "message": message})

    def debug(self, message: str) -> None:
        self._publish({"level": "debug", "message": message})

    def progress(self, activity: str, status: str, percent: Optional[int] = None) -> None:
        # Written as PowerShell's Write-Progress takes it, which the bridge passes on unchanged:
        # an activity and a status that are never empty, and a percentage from 0 to 100.
        shown = None if percent is None else max(0, min(100, int(percent)))
        self._publish({"progress": {"activity": activity or "PrefectWin", "status": status or "Working", "percent": shown}})


class SilentEvents(Events):
    """For callers (the doctor's table mode, tests) that want no side channel."""

    def _emit(self, record: dict) -> None:
        return None
