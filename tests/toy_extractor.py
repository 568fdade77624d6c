"""A tiny frozen extractor through the contract of helpers.detectors.pretrained, and its weights.

``build_extractor(checkpoint)`` loads a weights-only checkpoint ({"scale": tensor}) with
load_checkpoint and embeds each 0.5-s block of a 16 kHz waveform as its mean and spread, scaled:
[shape=(blocks, 2)]. Tests point inputs.extractor at this file where a run should not spend the
seconds a real network takes per clip.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from helpers.detectors.pretrained import Extractor, load_checkpoint

BLOCK = 8000  # samples of one block at 16 kHz


def build_extractor(checkpoint: Path | None) -> Extractor:
    scale = load_checkpoint(checkpoint)["scale"].numpy()

    def embed(y: np.ndarray) -> np.ndarray:
        blocks = y[: max(1, len(y) // BLOCK) * BLOCK].reshape(-1, min(BLOCK, len(y)))
        return (np.stack([blocks.mean(axis=1), blocks.std(axis=1)], axis=1) * scale).astype(np.float32)

    return Extractor("toy", f"toy:{float(scale[0])}", 16000, 2, 0.5, 0.5, embed)


def write_weights(path: Path, scale: float = 2.0) -> Path:
    """A checkpoint of weights only for :func:`build_extractor`."""
    torch.save({"scale": torch.tensor([scale, scale])}, path)
    return path


def overrides(folder: Path) -> dict:
    """Settings that make a copy of pretrained_embeddings use this extractor, with weights written into `folder`."""
    return {"inputs.extractor": str(Path(__file__)), "inputs.checkpoint": str(write_weights(folder / "toy.pt"))}
