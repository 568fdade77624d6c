"""Shared fixtures: small WAV writers, one tiny synthetic dataset and one cache folder per test session,
and each pytest-xdist worker's share of the cores."""
from __future__ import annotations

import os

# `make test` runs the tests in pytest-xdist workers; each worker, and every process it starts, takes
# its share of the cores, so that the workers never run more threads than there are cores. Set
# before numpy and torch are imported: their thread pools read these once.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
CORES = max(1, (os.cpu_count() or 1) // WORKERS)
if WORKERS > 1:
    for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_variable, str(CORES))

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

from helpers import paths, skiplog, threads  # noqa: E402
from helpers.data import cache

REAL_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real_samples"

# The modules that take longest (CPU seconds, measured), started first in this order so that no worker
# is left running one of them alone at the end; the others keep their order (the benchmarks' smoke runs,
# marked slow, last). `make test` passes
# --no-loadscope-reorder: pytest-xdist would otherwise start the modules with the most tests first.
LONGEST_FIRST = ("test_notebooks", "test_editions", "test_reproducibility", "test_spread",
                 "test_resume", "test_runner", "test_solutions", "test_eval_mode", "test_scale_out", "test_cli",
                 "test_keras_backend", "test_jupyterlab_browser", "test_templates", "test_synth")


def pytest_collection_modifyitems(items):
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: (item.get_closest_marker("slow") is not None,
                                 rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank))))


def write_wav(path: Path, seconds: float = 1.0, sample_rate: int = 16_000, channels: int = 1, seed: int = 0) -> Path:
    """Write a quiet noise clip [shape=(samples, channels)] as 16-bit PCM."""
    rng = np.random.default_rng(seed)
    data = 0.05 * rng.standard_normal((int(seconds * sample_rate), channels))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory) -> Path:
    """The whole session caches in a temporary folder, never the repository's .cache, and with no size limit.

    Set in os.environ, so that notebook kernels and other processes the tests start use it too.
    """
    before = {name: os.environ.get(name) for name in (paths.CACHE_DIR_VARIABLE, cache.MAX_SIZE_VARIABLE)}
    home = tmp_path_factory.mktemp("cache")
    os.environ[paths.CACHE_DIR_VARIABLE] = str(home)
    os.environ.pop(cache.MAX_SIZE_VARIABLE, None)
    yield home
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def worker_share():
    """Under pytest-xdist, this worker's kernels and trainings take its share of the cores (helpers.threads),
    as those of a runner running the workers' notebooks side by side would."""
    if WORKERS == 1:
        yield None
        return
    with threads.sharing(CORES) as budget:
        yield budget


@pytest.fixture(autouse=True)
def _fresh_skip_log():
    skiplog.reset()
    yield
    skiplog.reset()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """The tiny synthetic preset (all six machine types), made once per test run: under pytest-xdist
    the first worker to ask makes it in the run's temporary folder (under a lock), the others wait
    and read it. Tests never write into it (they copy what they change)."""
    from filelock import FileLock

    from helpers.data import synth

    if WORKERS == 1:
        root = tmp_path_factory.mktemp("tiny") / "dev_data"
        synth.generate(root, size="tiny", seed=0, progress=False)
        return root
    run_folder = tmp_path_factory.getbasetemp().parent  # shared by this run's workers, a new one per run
    root, done = run_folder / "tiny" / "dev_data", run_folder / "tiny" / "complete"
    with FileLock(str(run_folder / "tiny.lock")):
        if not done.is_file():
            synth.generate(root, size="tiny", seed=0, progress=False)
            done.touch()
    return root
