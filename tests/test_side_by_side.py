"""Machine types trained side by side in one kernel (pipeline.train_all with two or more cores):
each training gives what it gives alone at the same thread count, networks that draw noise from
the process-wide generators train one at a time, and a failure stops the training beside it."""
import random
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import paths, threads
from helpers.detectors import solution, torch_training
from helpers.experiments import pipeline
from helpers.detectors.detector import Detector, detector_path

TYPES = ["fan", "pump", "valve"]


def _cores(tmp_path, monkeypatch, cores: int) -> None:
    """This process's share of the cores, as a runner gives it (helpers.threads)."""
    path = tmp_path / f"cores-{cores}"
    path.write_text(str(cores))
    monkeypatch.setenv(threads.VARIABLE, str(path))


@pytest.fixture
def waves(monkeypatch) -> list[list[str]]:
    """The groups of machine types that pipeline.train_all trains side by side, as it starts them."""
    started, side_by_side = [], pipeline._side_by_side

    def recorded(solution, units, *rest):
        started.append([t for types in units for t in types])
        return side_by_side(solution, units, *rest)

    monkeypatch.setattr(pipeline, "_side_by_side", recorded)
    return started


def _pytorch(epochs: int = 2):
    return solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": epochs})


def test_each_training_beside_another_gives_what_it_gives_alone(tiny_data, tmp_path, monkeypatch, waves):
    before = torch.get_num_threads()
    sol = _pytorch()
    _cores(tmp_path, monkeypatch, 2)
    try:
        pipeline.train_all(sol, tiny_data, tmp_path / "together", ",".join(TYPES), live=False, progress=False)
        assert waves == [["fan", "pump"]]  # one per core; valve then alone, on both
        assert torch.get_num_threads() == 2  # valve took the whole share after the two side by side
        _cores(tmp_path, monkeypatch, 1)  # one core: one after another, one thread each, as each of the two had
        pipeline.train_all(sol, tiny_data, tmp_path / "alone", "fan,pump", live=False, progress=False)
    finally:
        torch.set_num_threads(before)  # the runner's share of one core set it to 1
    assert waves == [["fan", "pump"]]
    together, alone = tmp_path / "together" / "pytorch", tmp_path / "alone" / "pytorch"
    for machine_type in ("fan", "pump"):
        assert (together / f"history_{machine_type}.csv").read_bytes() == (alone / f"history_{machine_type}.csv").read_bytes()
        weights = [Detector.load(sol, detector_path(run, machine_type)).weights for run in (together, alone)]
        assert weights[0].keys() == weights[1].keys()
        assert all(np.array_equal(weights[0][name], weights[1][name]) for name in weights[0])
    for machine_type in TYPES:  # every loss figure drawn, by the thread that started the trainings
        assert (together / f"loss_{machine_type}.png").stat().st_size > 5_000


def test_trainings_side_by_side_share_the_cores(monkeypatch):
    monkeypatch.delenv(threads.VARIABLE, raising=False)
    monkeypatch.setattr(threads, "machine_cores", lambda: 4)
    before = torch.get_num_threads()
    assert threads.torch_threads() is None  # one training, no runner: torch is left as it is
    with threads.side_by_side(2):
        assert threads.torch_threads() == 2 and torch.get_num_threads() == 2
    with threads.side_by_side(3):
        assert threads.torch_threads() == 1  # never less than one thread
    assert threads.torch_threads() is None and torch.get_num_threads() == before


def test_networks_that_draw_noise_train_one_at_a_time():
    vae = solution.load(paths.NOTEBOOKS / "vae")
    states = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    assert torch_training.draws_global_randomness(vae)  # its reparameterisation noise
    assert not torch_training.draws_global_randomness(_pytorch())
    assert torch.equal(states[0], torch.get_rng_state()) and np.array_equal(states[1], np.random.get_state()[1])
    assert states[2] == random.getstate()  # the probe leaves the generators as they were
    assert torch_training.trainings_at_once(vae, 3, cores=2) == 1
    assert torch_training.trainings_at_once(_pytorch(), 3, cores=2) == 2
    assert torch_training.trainings_at_once(_pytorch(), 3, cores=1) == 1
    assert torch_training.trainings_at_once(_pytorch(), 1, cores=8) == 1
    on_gpu = solution.load(paths.NOTEBOOKS / "pytorch", {"trainer.accelerator": "gpu"})
    assert torch_training.trainings_at_once(on_gpu, 3, cores=8) == 1  # a GPU trains as before, one at a time


def test_a_failing_machine_type_stops_the_training_beside_it(tiny_data, tmp_path, monkeypatch, waves):
    trained = pipeline.train_detector

    def failing(solution, data_dir, types, *args, **kwargs):
        if types == ["valve"]:
            raise OSError("No space left on device")
        return trained(solution, data_dir, types, *args, **kwargs)

    monkeypatch.setattr(pipeline, "train_detector", failing)
    _cores(tmp_path, monkeypatch, 2)
    with pytest.raises(OSError, match="No space left on device"):
        pipeline.train_all(_pytorch(epochs=10_000), tiny_data, tmp_path / "result", "fan,valve", live=False,
                           progress=False)
    assert waves == [["fan", "valve"]]
    assert not (tmp_path / "result" / "pytorch" / "detector_fan.npz").exists()  # stopped, not trained to its end


def test_a_machine_type_whose_data_makes_no_detector_is_left_out_and_the_others_train(tiny_data, tmp_path,
                                                                                        monkeypatch, caplog):
    data = tmp_path / "data"
    shutil.copytree(tiny_data / "fan", data / "fan")
    shutil.copytree(tiny_data / "valve" / "test", data / "valve" / "test")
    (data / "valve" / "train").mkdir(parents=True)
    for index in range(3):
        (data / "valve" / "train" / f"normal_id_00_{index:08d}.wav").write_bytes(b"not audio")
    _cores(tmp_path, monkeypatch, 2)
    sol = _pytorch(epochs=1)
    summary = pipeline.train_all(sol, data, tmp_path / "result", "fan,valve", live=False, progress=False)
    assert summary["machine_type"].tolist() == ["fan", "valve"]
    assert summary["not_trained"].isna().tolist() == [True, False]
    assert summary["not_trained"].iloc[1].startswith(f"no usable training clip in {data / 'valve' / 'train'}")
    assert pipeline.not_trained(sol, tmp_path / "result") == {"valve": summary["not_trained"].iloc[1]}
    with caplog.at_level("WARNING", logger="helpers"):
        scores, tables = pipeline.test_all(sol, data, tmp_path / "result", "fan,valve", progress=False)
    assert set(scores["machine_type"]) == {"fan"} and set(tables) == {"fan"}
    assert "valve: no scores: its detector was not trained (why: train_summary.csv, not_trained)" in caplog.text


def test_an_interrupt_stops_every_training_side_by_side(tiny_data, tmp_path, monkeypatch, waves):
    def interrupted(relay):
        raise KeyboardInterrupt  # as Ctrl-C (or the notebook's stop button) lands while the trainings run

    monkeypatch.setattr(pipeline._Relay, "draw", interrupted)
    _cores(tmp_path, monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        pipeline.train_all(_pytorch(epochs=10_000), tiny_data, tmp_path, "fan,pump", live=False, progress=False)
    assert waves == [["fan", "pump"]]
    assert not list((tmp_path / "pytorch").glob("detector_*.npz"))


def test_the_summary_says_how_many_trained_at_once(tiny_data, tmp_path, monkeypatch):
    _cores(tmp_path, monkeypatch, 2)
    summary = pipeline.train_all(_pytorch(epochs=1), tiny_data, tmp_path, ",".join(TYPES), live=False, progress=False)
    assert list(summary["side_by_side"]) == [2, 2, 1]
    assert list(pd.read_csv(tmp_path / "pytorch" / "train_summary.csv")["side_by_side"]) == [2, 2, 1]


def test_a_finished_trainings_loss_figure_is_closed_for_good(tmp_path):
    """The thread that started the trainings draws every relay until the slowest ends: one that has
    finished opens no figure again (a notebook's cell would show it, empty, when it ends)."""
    import matplotlib.pyplot as plt

    plt.close("all")
    relay = pipeline._Relay("pytorch · fan", live=False)
    relay.update(pd.DataFrame({"epoch": [1, 2], "loss": [2.0, 1.0]}))
    relay.draw()
    assert len(plt.get_fignums()) == 1
    relay.close(tmp_path / "loss_fan.png")
    for _ in range(3):
        relay.draw()
    assert plt.get_fignums() == [] and (tmp_path / "loss_fan.png").stat().st_size > 5_000
