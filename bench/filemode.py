"""The mode a file written through a temporary name should get: what a plain write would give.

`tempfile.mkstemp` creates files readable by their owner only (0600) whatever the umask; a
report served by a web server or a results folder shared with a group must stay readable, so
every atomic writer sets this mode on its temporary file before renaming it into place.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def current_umask() -> int:
    """This process's umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_file_mode(path: Path) -> int:
    """The replaced file's mode if `path` exists, else 0666 less the umask (as `open` gives)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()
