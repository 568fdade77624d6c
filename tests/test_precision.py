import logging
import math

import pandas as pd
import pytest
import torch

from helpers import paths
from helpers.detectors import solution, torch_training
from helpers.experiments import pipeline


@pytest.mark.parametrize("accelerator", ["cpu", "gpu"])
def test_auto_precision_is_full_precision_on_every_device(accelerator):
    """A precision is a speed setting: `auto` never picks one that can change what a model detects."""
    assert torch_training.resolved_precision({"precision": "auto", "accelerator": accelerator}) == "32-true"
    assert torch_training.resolved_precision({"precision": "bf16-mixed", "accelerator": accelerator}) == "bf16-mixed"


def test_a_bf16_trained_model_is_saved_and_scored_in_full_precision_and_the_training_says_so(tiny_data, tmp_path,
                                                                                             caplog):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 2, "trainer.precision": "bf16-mixed"})
    with caplog.at_level(logging.WARNING, logger="helpers"):
        summary = pipeline.train_all(sol, tiny_data, tmp_path, "fan", live=False, progress=False)
    (said,) = [r.getMessage() for r in caplog.records if "precision" in r.getMessage()]
    assert said.startswith("fan: training in trainer.precision 'bf16-mixed', a speed setting")
    history = pd.read_csv(tmp_path / "pytorch" / "history_fan.csv")
    assert summary["epochs"].iloc[0] == 2 and history["loss"].map(math.isfinite).all()
    model = pipeline.load_detector(sol, "fan", tmp_path)
    assert {p.dtype for p in model.net.parameters()} == {torch.float32}
    scores, tables = pipeline.test_all(sol, tiny_data, tmp_path, "fan", progress=False)
    assert scores["score"].map(math.isfinite).all() and tables["fan"]["AUC"].between(0, 1).all()
