"""Start the agent (agent.py) in the target interpreter and read its framed answers.

The agent's answers are the stdout lines that carry this run's frame marker; anything else on
stdout (a banner, a sitecustomize that prints) is noise, kept only to explain a failure.
"""
from __future__ import annotations

import json
import secrets
from importlib import resources
from typing import Any, Optional

# `python -c` puts '' (the working directory) first on sys.path, so a stray json.py or
# pydantic.py where the caller stands would be imported instead of the real module and the agent
# would misreport the target. Drop it before anything is imported. Prefect still reads .env and
# prefect.toml from the working directory: that goes by the cwd, not by sys.path.
_ISOLATE_IMPORTS = "import sys\nif sys.path and sys.path[0] == '':\n    del sys.path[0]\n"
# CreateProcess limits a command line to 32767 characters; the -c source must stay well below.
MAX_SOURCE_CHARS = 30000


def new_frame() -> str:
    """A marker no stray output will carry by chance: a tag and a nonce. (No control
    characters: str.splitlines() would split a line at a record separator.)"""
    return f"@@prefectwin-{secrets.token_hex(8)}@@"


def agent_source(frame: str) -> str:
    """The `python -c` source: the prelude (sys.path isolation, the frame marker), then the agent."""
    agent = resources.files("prefectwin.target").joinpath("agent.py").read_text(encoding="utf-8")
    return f"{_ISOLATE_IMPORTS}FRAME = {frame!r}\n{agent}"


def parse_frame(line: str, frame: str) -> Optional[Any]:
    """The message a stdout line carries, or None for noise. The marker may follow stray text
    without a newline on the same line (a banner printed with end='')."""
    at = line.find(frame)
    if at < 0:
        return None
    try:
        return json.loads(line[at + len(frame):])
    except ValueError:
        return None


def noise_tail(lines: list[str], limit: int = 200) -> str:
    text = " | ".join(line.strip() for line in lines if line.strip())
    return text[-limit:]
