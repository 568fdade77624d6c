"""An interrupted torch training resumes from its checkpoint after the last finished epoch and gives
the same files, byte for byte, as an uninterrupted run; a checkpoint that cannot be resumed is
reported and training starts over; retrain=True discards it; a finished run leaves none."""
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
import torch

from helpers import paths
from helpers.data import layout
from helpers.detectors import solution, torch_training
from helpers.experiments import pipeline

SOLUTIONS = ("pytorch", "cnn_ae")  # cnn_ae draws new random crops every epoch
EPOCHS = 6
KILL_AFTER = 2      # a killed run is stopped once its checkpoint holds at least this many epochs
EPOCH_PAUSE = 0.5   # seconds a killed run waits before each epoch, so that the kill lands before training ends

RUN = textwrap.dedent("""
    import sys
    import time
    from helpers import paths
    from helpers.detectors import solution, torch_training
    from helpers.experiments import pipeline
    if __name__ == "__main__":
        data, result_root, pause, names = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
        if pause:
            epoch_start = torch_training.EpochHistory.on_train_epoch_start
            def paused(self, trainer, module):
                time.sleep(pause)
                epoch_start(self, trainer, module)
            torch_training.EpochHistory.on_train_epoch_start = paused
        for name in names:
            sol = solution.load(paths.NOTEBOOKS / name, {{"training.epochs": {epochs}}})
            pipeline.train_all(sol, data, result_root, "fan", live=False, progress=False)
            pipeline.test_all(sol, data, result_root, "fan", progress=False)
""").format(epochs=EPOCHS)


def _start(script, data, result_root, pause: float, names) -> subprocess.Popen:
    """Train and test `names` in a fresh process on one compute thread: the runs overlap on a small
    machine, and a run's arithmetic (so its bytes) depends on its thread count, the same in all of them."""
    return subprocess.Popen([sys.executable, str(script), str(data), str(result_root), str(pause), *names],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return out


def _checkpoint(result_root, name: str):
    return result_root / name / "checkpoints" / "fan.ckpt"


def _fingerprint(sol, data) -> str:
    """The training fingerprint of `sol` on the fan training clips of `data`, as pipeline.train_detector makes it."""
    clips, _ = pipeline.load_clip_features(sol, layout.list_clips(data, "fan", "train"), False, "")
    return pipeline.training_fingerprint(sol, clips)


def _kill_each_after_epoch(runs: dict, data, result_root, epochs: int) -> dict[str, int]:
    """SIGKILL each run {name: process} once its checkpoint holds `epochs` finished epochs.

    Returns {name: the epochs in its checkpoint after the kill}.
    """
    fingerprints = {name: _fingerprint(solution.load(paths.NOTEBOOKS / name, {"training.epochs": EPOCHS}), data)
                    for name in runs}
    seen, reached, deadline = {}, {}, time.monotonic() + 240
    while len(reached) < len(runs) and time.monotonic() < deadline:
        for name, process in runs.items():
            if name in reached:
                continue
            if process.poll() is not None:
                pytest.fail(f"{name} ended before it was killed: {process.communicate()[1][-3000:]}")
            checkpoint = _checkpoint(result_root, name)
            stat = checkpoint.stat() if checkpoint.is_file() else None
            if stat and seen.get(name) != (stat.st_ino, stat.st_mtime_ns):  # each save renames a new file in
                seen[name] = (stat.st_ino, stat.st_mtime_ns)
                if torch_training.resumable_epochs(checkpoint, fingerprints[name]) >= epochs:
                    process.send_signal(signal.SIGKILL)
                    process.communicate()
                    reached[name] = torch_training.resumable_epochs(checkpoint, fingerprints[name])
        time.sleep(0.05)
    assert len(reached) == len(runs), f"no checkpoint of {epochs} epochs within the time limit: {reached}"
    return reached


def _outputs(run_dir) -> dict[str, bytes]:
    files = [run_dir / "history_fan.csv", run_dir / "result.csv", *sorted(run_dir.glob("anomaly_score_*.csv"))]
    return {p.name: p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory):
    """One uninterrupted run of each solution; one run of each killed after epoch KILL_AFTER, then rerun.

    Returns (result root, {name: epochs in its checkpoint when killed}, the rerun's printed output).
    """
    root = tmp_path_factory.mktemp("resume")
    script = root / "run.py"
    script.write_text(RUN)
    uninterrupted = _start(script, tiny_data, root / "uninterrupted", 0, SOLUTIONS)
    killed = {name: _start(script, tiny_data, root / "killed", EPOCH_PAUSE, [name]) for name in SOLUTIONS}
    try:
        reached = _kill_each_after_epoch(killed, tiny_data, root / "killed", KILL_AFTER)
        for name in SOLUTIONS:
            assert not (root / "killed" / name / "detector_fan.npz").exists()
        rerun = _finish(_start(script, tiny_data, root / "killed", 0, SOLUTIONS))
        _finish(uninterrupted)
    finally:
        for process in (uninterrupted, *killed.values()):
            if process.poll() is None:
                process.kill()
                process.communicate()
    return root, reached, rerun


@pytest.mark.parametrize("name", SOLUTIONS)
def test_killed_training_resumes_and_matches_an_uninterrupted_run(name, runs):
    root, reached, rerun = runs
    assert KILL_AFTER <= reached[name] < EPOCHS
    checkpoint = _checkpoint(root / "killed", name)
    assert f"fan: resuming from the checkpoint after epoch {reached[name]} of {EPOCHS} ({checkpoint})" in rerun
    assert _outputs(root / "killed" / name) == _outputs(root / "uninterrupted" / name)
    assert len(pd.read_csv(root / "killed" / name / "history_fan.csv")) == EPOCHS
    assert not checkpoint.parent.exists() and not (root / "uninterrupted" / name / "checkpoints").exists()


# In-process checks on the pytorch solution, two epochs.

SHORT = 2


@pytest.fixture(autouse=True, scope="module")
def _one_compute_thread():
    """One torch thread while this module trains in-process: on a small shared machine, two threads
    that wait on each other made these tiny trainings ten times slower (1.3 s against 15-24 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _pytorch(seed: int = 0):
    return solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": SHORT, "training.seed": seed})


def _checkpoint_of(sol, tiny_data, folder):
    """The checkpoint that `sol` leaves after its last epoch on the fan clips (no model is saved)."""
    _, log_mels = pipeline.load_clip_features(sol, layout.list_clips(tiny_data, "fan", "train"), False, "")
    train, held = pipeline.split_validation(log_mels, sol.config["training"]["validation_split"])
    path = folder / "fan.ckpt"
    torch_training.train(sol, pipeline.make_items(sol, [log_mels[i] for i in train], True),
                        pipeline.make_items(sol, [log_mels[i] for i in held], True),
                        folder / "logs", "fan", checkpoint=path, fingerprint=_fingerprint(sol, tiny_data))
    return path


@pytest.fixture(scope="module")
def clean_run(tiny_data, tmp_path_factory):
    """The result folder of an uninterrupted two-epoch run."""
    root = tmp_path_factory.mktemp("clean")
    pipeline.train_all(_pytorch(), tiny_data, root, "fan", live=False, progress=False)
    return root / "pytorch"


@pytest.fixture(scope="module")
def clean_history(clean_run) -> bytes:
    return (clean_run / "history_fan.csv").read_bytes()


@pytest.fixture(scope="module")
def other_settings_checkpoint(tiny_data, tmp_path_factory) -> bytes:
    """A whole checkpoint after epoch 2 of a run with another seed (so another fingerprint)."""
    return _checkpoint_of(_pytorch(seed=1), tiny_data, tmp_path_factory.mktemp("seed1")).read_bytes()


def _train_over(checkpoint_bytes: bytes, tiny_data, root, retrain: bool = False):
    """Train with `checkpoint_bytes` as the run's checkpoint; (its path, the history written)."""
    checkpoint = root / "pytorch" / "checkpoints" / "fan.ckpt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(checkpoint_bytes)
    summary = pipeline.train_all(_pytorch(), tiny_data, root, "fan", retrain=retrain, live=False, progress=False)
    assert summary.iloc[0]["epochs"] == SHORT and not summary.iloc[0]["reused"]
    assert not checkpoint.parent.exists()
    return checkpoint, (root / "pytorch" / "history_fan.csv").read_bytes()


def test_finished_run_leaves_no_checkpoint(clean_run):
    assert (clean_run / "detector_fan.npz").is_file() and not (clean_run / "checkpoints").exists()


def _flip_middle(whole: bytes) -> bytes:
    middle = len(whole) // 2
    return whole[:middle] + bytes(b ^ 0xFF for b in whole[middle:middle + 64]) + whole[middle + 64:]


SPOILT = {  # how a whole checkpoint is spoilt: (spoil, the reason the warning gives)
    "empty": (lambda whole: b"", "is cut short"),
    "first 100 bytes": (lambda whole: whole[:100], "is cut short"),
    "first half": (lambda whole: whole[:len(whole) // 2], "is cut short"),
    "last byte missing": (lambda whole: whole[:-1], "is cut short"),
    "64 bytes flipped": (_flip_middle, "is damaged"),
}


@pytest.mark.parametrize("spoil, reason", SPOILT.values(), ids=SPOILT.keys())
def test_unreadable_checkpoint_is_reported_and_training_starts_over(spoil, reason, other_settings_checkpoint,
                                                                    clean_history, tiny_data, tmp_path, caplog,
                                                                    capsys):
    with caplog.at_level(logging.WARNING, logger="helpers"):
        checkpoint, history = _train_over(spoil(other_settings_checkpoint), tiny_data, tmp_path)
    assert f"checkpoint {checkpoint} {reason}" in caplog.text and "training starts over" in caplog.text
    assert "resuming" not in capsys.readouterr().out
    assert history == clean_history


def test_checkpoint_of_other_settings_is_reported_and_training_starts_over(other_settings_checkpoint, clean_history,
                                                                           tiny_data, tmp_path, caplog, capsys):
    with caplog.at_level(logging.WARNING, logger="helpers"):
        checkpoint, history = _train_over(other_settings_checkpoint, tiny_data, tmp_path)
    assert f"checkpoint {checkpoint} was saved by a training with other settings or training data" in caplog.text
    assert "resuming" not in capsys.readouterr().out
    assert history == clean_history  # the seed-1 checkpoint would have given seed 1's history


def test_foreign_file_is_reported_and_training_starts_over(clean_history, tiny_data, tmp_path, caplog):
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}, "fingerprint": _fingerprint(_pytorch(), tiny_data)}, foreign)
    with caplog.at_level(logging.WARNING, logger="helpers"):
        checkpoint, history = _train_over(foreign.read_bytes(), tiny_data, tmp_path / "run")
    assert f"checkpoint {checkpoint} is not a training checkpoint of this toolkit" in caplog.text
    assert history == clean_history


def test_retrain_ignores_and_removes_a_checkpoint(clean_history, tiny_data, tmp_path, caplog, capsys):
    # A checkpoint of these very settings whose history rows were altered: resuming from it would show them.
    sol = _pytorch()
    saved = torch.load(_checkpoint_of(sol, tiny_data, tmp_path / "made"), weights_only=True)
    rows = saved["callbacks"]["EpochHistory"]["rows"]
    saved["callbacks"]["EpochHistory"]["rows"] = [{**row, "loss": -1.0} for row in rows]
    altered = tmp_path / "altered.ckpt"
    torch.save(saved, altered)
    assert torch_training.resumable_epochs(altered, _fingerprint(sol, tiny_data)) == SHORT
    with caplog.at_level(logging.WARNING, logger="helpers"):
        _, history = _train_over(altered.read_bytes(), tiny_data, tmp_path / "run", retrain=True)
    assert "resuming" not in capsys.readouterr().out and "checkpoint" not in caplog.text
    assert history == clean_history


def test_reused_model_removes_a_leftover_checkpoint(other_settings_checkpoint, tiny_data, tmp_path):
    pipeline.train_all(_pytorch(), tiny_data, tmp_path, "fan", live=False, progress=False)
    checkpoint = tmp_path / "pytorch" / "checkpoints" / "fan.ckpt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(other_settings_checkpoint)  # as if the run had stopped right after saving the model
    summary = pipeline.train_all(_pytorch(), tiny_data, tmp_path, "fan", live=False, progress=False)
    assert summary.iloc[0]["reused"] and not checkpoint.parent.exists()
