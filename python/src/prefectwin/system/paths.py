"""Plain file operations, the same on every OS: a collaborator both real adapters hold."""
from __future__ import annotations

import os
import shutil


class LocalPaths:
    def path_exists(self, path: str) -> bool:
        return os.path.exists(path)

    def directory_entries(self, path: str) -> list[str]:
        """The names in a directory; none for a missing path or a file."""
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def create_directory(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def remove_path(self, path: str) -> None:
        """Delete a file, or a directory with everything in it; a missing path is no error."""
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
