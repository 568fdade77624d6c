"""A tiny machine-ID classifier solution, written into a test's folder (the real one lives in notebooks/).

A copy of the pytorch solution folder (its notebooks) with its own model.py and config.yaml:
a small CNN on 32x32 log-mel segments with logits over the machine IDs (forward) and an
8-d embedding (embed), trained on training.objective machine_id and scored by nll.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from helpers import paths
from helpers.detectors import solution

MODEL = '''"""A small CNN that tells machine IDs apart: [shape=(batch, n_mels, frames)] -> logits [shape=(batch, classes)]."""
from torch import nn


class TinyClassifier(nn.Module):
    def __init__(self, classes: int, width: int = 8, embedding: int = 8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(2 * width, embedding))
        self.head = nn.Linear(embedding, classes)

    def embed(self, x):
        return self.features((x[:, None] + 40.0) / 20.0)

    def forward(self, x):
        return self.head(nn.functional.relu(self.embed(x)))


def build_model(input_shape, classes, width: int = 8, embedding: int = 8):
    return TinyClassifier(classes, width, embedding)
'''

CONFIG = """description: tiny machine-ID classifier (tests)
framework: torch
features: {n_mels: 32, frames: 5, n_fft: 1024, hop_length: 512, power: 2.0}
inputs: {kind: segments, segment_frames: 32, segment_step: 16, crops_per_clip: 8}
training: {epochs: 2, batch_size: 64, learning_rate: 0.003, validation_split: 0.1, seed: 0, objective: machine_id}
scoring: {backend: nll}
model: {width: 8, embedding: 8}
"""


def write(folder: Path, overrides: dict | None = None) -> solution.Solution:
    """The toy classifier solution in `folder` (created from a copy of notebooks/pytorch), loaded."""
    shutil.copytree(paths.NOTEBOOKS / "pytorch", folder, dirs_exist_ok=True)
    (folder / "model.py").write_text(MODEL)
    (folder / "config.yaml").write_text(CONFIG)
    return solution.load(folder, overrides)
