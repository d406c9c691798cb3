"""Facts about a directory: does it exist, can it be created, can we write to it."""
from __future__ import annotations

import os
import tempfile
from typing import Callable, Optional

from prefectwin.diagnosis.facts import PathFacts


def _nearest_existing(path: str) -> Optional[str]:
    current = os.path.abspath(path)
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return current


def _really_writable(directory: str) -> bool:
    # os.access ignores ACLs on Windows and root's override on Linux; a real file is the truth.
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".prefectwin-", delete=True):
            return True
    except OSError:
        return False


def path_facts(path: str, drive_kind: Callable[[str], tuple[str, Optional[str]]]) -> PathFacts:
    kind, unc = drive_kind(path)
    exists = os.path.exists(path)
    is_dir = os.path.isdir(path)
    ancestor = None if exists else _nearest_existing(path)
    return PathFacts(
        path=path,
        exists=exists,
        is_dir=is_dir,
        creatable=bool(ancestor and os.path.isdir(ancestor) and _really_writable(ancestor)),
        writable=is_dir and _really_writable(path),
        drive_kind=kind,
        unc_target=unc,
    )
