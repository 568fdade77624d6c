"""Frozen pretrained extractors: the aisfx network from the installed wheel, checkpoints loaded without
unpickling code, a user's own extractor through the same contract, and the solution trained on none."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers import paths
from helpers.data import layout
from helpers.detectors import pretrained, solution
from helpers.errors import ConfigError, ToolkitError
from helpers.experiments import pipeline
from tests import toy_extractor


class Payload:
    """What a hostile checkpoint would hold: unpickling it runs a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_checkpoint_holding_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "extra": Payload(marker)}, path)
    with pytest.raises(ToolkitError) as refused:
        pretrained.load_checkpoint(path)
    message = str(refused.value)
    assert str(path) in message and "system" in message and "weights only" in message
    assert not marker.exists()


def test_a_checkpoint_of_tensors_and_numpy_numbers_loads(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save(({"w": torch.arange(3.0)}, {"classes": (np.int64(2), 7)}), path)
    weights, extra = pretrained.load_checkpoint(path)
    assert weights["w"].tolist() == [0.0, 1.0, 2.0] and int(extra["classes"][0]) == 2
    with pytest.raises(ConfigError, match="no checkpoint at"):
        pretrained.load_checkpoint(tmp_path / "missing.pth")


def test_aisfx_embeds_2_s_blocks_from_the_installed_weights(tmp_path):
    extractor = pretrained.extractor("aisfx")
    assert extractor.identity.startswith("aisfx:") and (extractor.sample_rate, extractor.dims) == (44100, 512)
    y = np.random.default_rng(0).normal(0, 0.1, 10 * 44100).astype(np.float32)
    embeddings = extractor.embed(y)
    # 431 frames of 1024 samples: blocks of 100 frames every 50, the partial last one dropped
    assert embeddings.shape == (7, 512) and embeddings.dtype == np.float32 and np.isfinite(embeddings).all()
    assert extractor.embed(y[:4410]).shape == (1, 512)  # a clip shorter than a block: one zero-padded block
    network = pretrained.aisfx_network()
    assert sum(p.numel() for p in network.parameters()) == 4_686_144  # 9 conv layers' worth: the paper's 4.7 M


def test_a_missing_extractor_or_checkpoint_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install --no-deps aisfx==0\.1\.2"):
        pretrained.aisfx_checkpoint()
    with pytest.raises(ConfigError, match="nothing is downloaded"):
        pretrained.extractor("aisfx", str(tmp_path / "beats.pt"))
    with pytest.raises(ConfigError, match="must be one of .*'aisfx'.* or a Python file"):
        pretrained.extractor("beats")


def test_a_users_own_extractor_runs_through_the_same_contract(tiny_data, tmp_path):
    """A folder copied from pretrained_embeddings with its own extractor file (tests/toy_extractor.py) and weights: trained
    (nothing to train) and tested on the fan clips, its items the extractor's blocks."""
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("config.yaml", "model.py"):
        (folder / name).write_text((paths.NOTEBOOKS / "pretrained_embeddings" / name).read_text())
    (folder / "toy_extractor.py").write_text(Path(toy_extractor.__file__).read_text())
    toy_extractor.write_weights(folder / "toy.pt")
    sol = solution.load(folder, {"inputs.extractor": "toy_extractor.py", "inputs.checkpoint": "toy.pt",
                                 "scoring.domains": "pooled", "scoring.oversample_target": 0.0})
    assert sol.input_shape() == (2,)
    summary = pipeline.train_all(sol, tiny_data, tmp_path / "result", "fan", live=False, progress=False)
    clips = layout.list_clips(tiny_data, "fan", "train")
    assert summary.loc[0, "epochs"] == 0 and summary.loc[0, "clips"] == len(clips)
    assert summary.loc[0, "items"] == sum(sf.info(c.path).frames // 8000 for c in clips)
    scores, tables = pipeline.test_all(sol, tiny_data, tmp_path / "result", "fan", progress=False)
    assert scores["score"].notna().all() and scores["score"].ge(0).all()
    metrics = json.loads((tmp_path / "result" / "mine" / "metrics.json").read_text())
    assert 0 <= metrics["official_score"] <= 1
    (folder / "toy.pt").unlink()
    with pytest.raises(ConfigError, match="inputs.checkpoint: no file at"):
        solution.load(folder, {"inputs.extractor": "toy_extractor.py", "inputs.checkpoint": "toy.pt"}).input_shape()
