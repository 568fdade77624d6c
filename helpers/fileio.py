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

_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # the mode open() gives a new file under this process's umask


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    Raises ToolkitError naming the folder if the folder cannot be created or written, and naming
    the file if the final rename fails (the old file, if any, is then left as it was).
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
        try:
            os.chmod(tmp, FILE_MODE)  # mkstemp makes the file private; a result or clip is readable as any other
            os.replace(tmp, path)
        except OSError as err:
            raise ToolkitError(f"cannot write {path}: {err.strerror or err}") from err
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
    """Write `text` to `path` in UTF-8, whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    return Path(path)
