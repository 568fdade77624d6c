"""What a run did not use as it was: the files it skipped, those it converted, and what a user must act on.

Anything that cannot use a file (unreadable, empty, too short, badly named) calls :func:`skip`;
reading a clip that is not 16 kHz mono converts it and calls :func:`convert`; a finding a person
must act on (a section whose AUC is undefined, a scorer fitted anew) calls :func:`notice`. Each
warns once and is recorded. A notebook ends with :func:`report`: it prints :func:`summary` and
records the lists in its output (helpers.recording), from where the command line names them
after each notebook. One broken clip never stops a run.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger("helpers")


@dataclass(frozen=True)
class SkippedFile:
    """A file a run left out or changed, and why (`reason`: what was wrong, or what was done to it)."""

    path: str
    reason: str


_skipped: dict[str, SkippedFile] = {}
_converted: dict[str, SkippedFile] = {}
_notices: list[str] = []


def skip(path: str | Path, reason: str) -> None:
    """Record that `path` was skipped and warn once with the reason."""
    key = str(path)
    if key not in _skipped:
        _skipped[key] = SkippedFile(key, reason)
        log.warning("skipped %s: %s", key, reason)


def skip_clip(error) -> None:
    """Record a :class:`helpers.errors.ClipError` (which names its file and reason)."""
    skip(error.path, error.reason)


def convert(path: str | Path, how: str) -> None:
    """Record that `path` was used after a conversion (`how`: e.g. "2 channels, the first used") and warn once."""
    key = str(path)
    if key not in _converted:
        _converted[key] = SkippedFile(key, how)
        log.warning("%s: %s", key, how)


def notice(message: str) -> None:
    """Record a finding a person must act on, and warn with it (once per message)."""
    if message not in _notices:
        _notices.append(message)
        log.warning("%s", message)


def skipped() -> list[SkippedFile]:
    """Every file skipped since the last :func:`reset`, in the order met."""
    return list(_skipped.values())


def converted() -> list[SkippedFile]:
    """Every file converted since the last :func:`reset`, in the order met."""
    return list(_converted.values())


def notices() -> list[str]:
    """Every finding recorded by :func:`notice` since the last :func:`reset`."""
    return list(_notices)


def reset() -> None:
    _skipped.clear()
    _converted.clear()
    _notices.clear()


def summary() -> str:
    """A human-readable list of the skipped and converted files and the notices (or a line saying there were none)."""
    if not (_skipped or _converted or _notices):
        return "No files were skipped or converted."
    lines = []
    for title, files in (("skipped", _skipped), ("converted", _converted)):
        if files:
            lines += [f"{len(files)} file(s) {title}:", *(f"  {s.path}: {s.reason}" for s in files.values())]
    if _notices:
        lines += [f"{len(_notices)} notice(s):", *(f"  {n}" for n in _notices)]
    return "\n".join(lines)


def report() -> None:
    """Print :func:`summary` and record the lists in the executing notebook's output for scripts."""
    from helpers import recording

    print(summary())
    recording.record_files({"skipped": [asdict(s) for s in _skipped.values()],
                            "converted": [asdict(s) for s in _converted.values()], "notices": list(_notices)})
