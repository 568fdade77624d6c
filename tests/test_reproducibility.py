"""One seed setting makes a CPU run repeatable: the same scores to the last digit, in a fresh process,
for the Lightning loop and for the Keras one (TensorFlow with op determinism), whatever the feature
cache holds."""
import os
import subprocess
import sys
import textwrap

import pytest
import threadpoolctl
import torch

from helpers import paths
from helpers.detectors import solution
from helpers.experiments import pipeline

RUN = textwrap.dedent("""
    import sys
    from helpers.detectors import solution
    from helpers.experiments import pipeline
    if __name__ == "__main__":
        data, result_root, seed, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
        sol = solution.load("{notebooks}/" + name, {{"training.epochs": 2, "training.seed": seed}})
        pipeline.train_all(sol, data, result_root, "fan", retrain=True, live=False, progress=False)
        pipeline.test_all(sol, data, result_root, "fan", progress=False)
""").format(notebooks=paths.NOTEBOOKS)


def _run(script, data, result_root, seed: int, hash_seed: str, name: str = "pytorch") -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, str(script), str(data), str(result_root), str(seed), name], check=True, env=env,
                   capture_output=True, timeout=300)
    run = result_root / name
    return {p.name: p.read_bytes() for p in sorted(run.glob("anomaly_score_*.csv"))} | \
        {"history": (run / "history_fan.csv").read_bytes()}


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("script") / "run.py"
    path.write_text(RUN)
    return path


@pytest.fixture(scope="module")
def seed0_runs(script, tiny_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return (_run(script, tiny_data, root / "first", seed=0, hash_seed="1"),
            _run(script, tiny_data, root / "second", seed=0, hash_seed="2"))


def test_same_seed_gives_identical_scores_in_fresh_processes(seed0_runs):
    first, second = seed0_runs
    assert len(first) == 5  # four score files (IDs 00, 02, 04, 06) and the loss history
    assert first == second  # byte for byte: every score printed with repr, to the last digit


def test_another_seed_gives_other_scores(seed0_runs, tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 2, "training.seed": 1})
    pipeline.train_all(sol, tiny_data, tmp_path, "fan", retrain=True, live=False, progress=False)
    pipeline.test_all(sol, tiny_data, tmp_path, "fan", progress=False)
    other = (tmp_path / "pytorch" / "anomaly_score_fan_id_00.csv").read_bytes()
    assert other != seed0_runs[0]["anomaly_score_fan_id_00.csv"]


def test_keras_runs_repeat_in_fresh_processes(script, tiny_data, tmp_path):
    first = _run(script, tiny_data, tmp_path / "first", seed=0, hash_seed="1", name="original")
    second = _run(script, tiny_data, tmp_path / "second", seed=0, hash_seed="2", name="original")
    assert len(first) == 5 and first == second


def test_the_same_model_whatever_the_cache_holds(tiny_data, tmp_path, monkeypatch):
    """A run reads its log-mels from the cache when another run put them there first, computed in a
    process with another number of BLAS threads (a kernel under another share of the cores, a test
    worker, a feature worker). The trained weights are the same to the last bit as with an empty cache."""
    other_threads = 1 if threadpoolctl.threadpool_info() and max(
        i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas") > 1 else 2
    populated = tmp_path / "populated"
    fill = ("import sys\nfrom helpers.data import featurecache, layout\n"
            "clips = [c.path for split in ('train', 'test') for c in layout.list_clips(sys.argv[1], 'fan', split)]\n"
            "featurecache.log_mels(clips, progress=False)\n")
    env = {**os.environ, paths.CACHE_DIR_VARIABLE: str(populated), "OPENBLAS_NUM_THREADS": str(other_threads)}
    subprocess.run([sys.executable, "-c", fill, str(tiny_data)], check=True, env=env, timeout=300)
    assert any((populated / "features").rglob("*.npy"))

    weights = {}
    for name, home in (("empty", tmp_path / "empty"), ("populated", populated)):
        monkeypatch.setenv(paths.CACHE_DIR_VARIABLE, str(home))
        sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 2})
        pipeline.train_all(sol, tiny_data, tmp_path / name, "fan", retrain=True, live=False, progress=False)
        weights[name] = pipeline.load_detector(sol, "fan", tmp_path / name).net.state_dict()
    assert any((tmp_path / "empty" / "features").rglob("*.npy"))  # the first run computed and cached its own
    assert weights["empty"].keys() == weights["populated"].keys()
    assert all(torch.equal(weights["empty"][k], weights["populated"][k]) for k in weights["empty"])
