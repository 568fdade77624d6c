"""Writing files whole or not at all.

A file is first written beside its target under a temporary name, then renamed over it, so a
reader never sees half a file and an old file survives a failed write.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from helpers.errors import ToolkitError


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    Raises ToolkitError naming the folder if the folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise ToolkitError(f"cannot write to folder {path.parent}: {err.strerror or err}") from err
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def writable_folder(path: str | Path, what: str = "folder",
                    hint: str = "choose a folder you can write to (RESULT_ROOT / --result-dir)") -> Path:
    """`path`, created if needed, after checking that a file can be written in it.

    Raises ToolkitError naming the folder and the reason (then `hint`, if any), before any long work starts.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        message = f"cannot write to the {what} {path}: {err.strerror or err}"
        raise ToolkitError(f"{message}; {hint}" if hint else message) from err
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, newline="")
    return Path(path)
