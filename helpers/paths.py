"""Where the project keeps its data, results and caches (all relative to the repository root).

The cache's home is read from the environment at each call, so that a process (the test suite,
a notebook kernel started by it) can point it elsewhere: DCASE_CACHE_DIR overrides the default
``<repo>/.cache``. Whether a folder can actually be written is helpers.data.cache's question.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = PROJECT_ROOT / "notebooks"
DEV_DATA = PROJECT_ROOT / "dev_data"
EVAL_DATA = PROJECT_ROOT / "eval_data"
RESULT = PROJECT_ROOT / "result"
DEFAULT_CACHE = PROJECT_ROOT / ".cache"
CACHE_DIR_VARIABLE = "DCASE_CACHE_DIR"
REAL_SAMPLES = PROJECT_ROOT.parent / "shared" / "real_samples"


def cache_dir() -> tuple[Path, str]:
    """The configured cache home and where that choice comes from (for messages).

    $DCASE_CACHE_DIR if set and not empty (made absolute), else ``<repo>/.cache``.
    """
    configured = os.environ.get(CACHE_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser().absolute(), f"from {CACHE_DIR_VARIABLE}"
    return DEFAULT_CACHE, "the default, in the repository"


def user_cache_dir() -> Path:
    """The per-user cache, used when the configured home cannot be written:
    $XDG_CACHE_HOME/dcase-notebooks, or ~/.cache/dcase-notebooks."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dcase-notebooks"
