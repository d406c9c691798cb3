"""Log retention: which of NSSM's rotated log files to delete. Pure; the caller lists them.

NSSM rotates a log (by size while running, by age when it starts the application) but never
deletes the copies, so without this a busy service fills its disk. A copy is deleted when it
is not among the newest `keep` copies of its log, or when it is older than `days` (0: no age
limit). The live log file is never a candidate.

When it runs: Install-PrefectService plans the deletions (so -WhatIf lists them), and the
scheduled task it registers runs `python -m prefectwin prune-logs <service>` daily, which
deletes by the retention in the service's marker (services/prune.py, through cli.py).
"""
from __future__ import annotations

from typing import Sequence

DAY_SEC = 86_400


def expired(copies: Sequence[tuple[str, float]], *, keep: int, days: int, now: float) -> list[str]:
    """The copies (path, modification time) to delete, oldest first."""
    newest_first = sorted(copies, key=lambda item: (item[1], item[0]), reverse=True)
    doomed = []
    for index, (path, modified) in enumerate(newest_first):
        too_many = index >= keep
        too_old = days > 0 and now - modified > days * DAY_SEC
        if too_many or too_old:
            doomed.append(path)
    return list(reversed(doomed))
