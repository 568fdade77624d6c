"""Where the project keeps its data, results and caches (all relative to the repository root)."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = PROJECT_ROOT / "notebooks"
DEV_DATA = PROJECT_ROOT / "dev_data"
EVAL_DATA = PROJECT_ROOT / "eval_data"
RESULT = PROJECT_ROOT / "result"
CACHE = PROJECT_ROOT / ".cache"
REAL_SAMPLES = PROJECT_ROOT.parent / "shared" / "real_samples"
