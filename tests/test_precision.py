import math

import pandas as pd
import torch

from helpers import paths, pipeline, solution, torch_training


def test_auto_precision_is_bf16_only_on_a_cpu_that_computes_it(monkeypatch):
    monkeypatch.setattr(torch_training, "cpu_computes_bf16", lambda: True)
    assert torch_training.resolved_precision({"precision": "auto", "accelerator": "cpu"}) == "bf16-mixed"
    assert torch_training.resolved_precision({"precision": "auto", "accelerator": "gpu"}) == "32-true"
    assert torch_training.resolved_precision({"precision": "32-true", "accelerator": "cpu"}) == "32-true"
    monkeypatch.setattr(torch_training, "cpu_computes_bf16", lambda: False)
    assert torch_training.resolved_precision({"precision": "auto", "accelerator": "cpu"}) == "32-true"
    assert torch_training.resolved_precision({"precision": "bf16-mixed", "accelerator": "cpu"}) == "bf16-mixed"


def test_a_bf16_trained_model_is_saved_and_scored_in_full_precision(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 2, "trainer.precision": "bf16-mixed"})
    summary = pipeline.train_all(sol, tiny_data, tmp_path, "fan", live=False, progress=False)
    history = pd.read_csv(tmp_path / "pytorch" / "history_fan.csv")
    assert summary["epochs"].iloc[0] == 2 and history["loss"].map(math.isfinite).all()
    model = pipeline.load_model(sol, "fan", tmp_path)
    assert {p.dtype for p in model.net.parameters()} == {torch.float32}
    scores, tables = pipeline.test_all(sol, tiny_data, tmp_path, "fan", progress=False)
    assert scores["score"].map(math.isfinite).all() and tables["fan"]["AUC"].between(0, 1).all()
