"""The list of files a run skipped, with the reason for each.

Anything that cannot use a file (unreadable, empty, too short, badly named) calls
:func:`skip`, which warns with the file's name and records it; a run ends by printing
:func:`summary`. One broken clip never stops a run.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("helpers")


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


_skipped: dict[str, SkippedFile] = {}


def skip(path: str | Path, reason: str) -> None:
    """Record that `path` was skipped and warn once with the reason."""
    key = str(path)
    if key not in _skipped:
        _skipped[key] = SkippedFile(key, reason)
        log.warning("skipped %s: %s", key, reason)


def skip_clip(error) -> None:
    """Record a :class:`helpers.errors.ClipError` (which names its file and reason)."""
    skip(error.path, error.reason)


def skipped() -> list[SkippedFile]:
    """Every file skipped since the last :func:`reset`, in the order met."""
    return list(_skipped.values())


def reset() -> None:
    _skipped.clear()


def summary() -> str:
    """A human-readable list of the skipped files (or a line saying there were none)."""
    if not _skipped:
        return "No files were skipped."
    lines = [f"{len(_skipped)} file(s) skipped:"]
    lines += [f"  {s.path}: {s.reason}" for s in _skipped.values()]
    return "\n".join(lines)
