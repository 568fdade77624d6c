"""Running the PyTorch solutions' networks: batches, losses, saving, loading, predicting.

Only torch is imported here: loading a trained model and scoring with it (the test and
visualisation notebooks) does not pay for Lightning's import. Training runs through the
Lightning loop of helpers.torch_training, which builds on what is here. The loss is the
network's own ``training_loss(x, target)`` when it defines one (the VAE, an angular-margin
head), else the objective's: mean squared error between the output and the reconstruction
target, or cross-entropy of the logits against the machine-ID index (helpers.scoring).
:func:`predict` and :func:`embed` are what scoring asks of a trained network.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from helpers.errors import ConfigError
from helpers.fileio import atomic_path
from helpers.inputs import Items

MODEL_SUFFIX = ".pt"


class ItemDataset(torch.utils.data.Dataset):
    """(inputs, targets) built per batch from Items (no per-item Python work).

    targets: the reconstruction targets (the same tensor as the inputs for an autoencoder) or,
    for a machine_id objective, each item's ID index [shape=(batch,)].
    """

    def __init__(self, items: Items, objective: str):
        self.items, self.objective = items, objective

    def __len__(self) -> int:
        return len(self.items)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = np.asarray(indices)
        x = torch.from_numpy(self.items.batch(index))
        if self.objective == "machine_id":
            return x, torch.from_numpy(self.items.labels_of(index))
        return x, x if self.items.target_is_input else torch.from_numpy(self.items.targets(index))


def _as_batch(batch):
    return batch


def loader(items: Items, batch_size: int, shuffle: bool, objective: str = "reconstruction",
           generator: torch.Generator | None = None) -> torch.utils.data.DataLoader:
    """A DataLoader of whole batches, shuffled (when `shuffle`) from `generator` (default: torch's
    global generator); Lightning swaps in a distributed sampler under DDP."""
    return torch.utils.data.DataLoader(ItemDataset(items, objective), batch_size=batch_size, shuffle=shuffle,
                                       collate_fn=_as_batch, generator=generator)


def network_loss(net: nn.Module, x: torch.Tensor, target: torch.Tensor, objective: str) -> tuple[torch.Tensor, dict]:
    """The network's own training loss if it defines one, else the objective's (MSE or cross-entropy)."""
    if hasattr(net, "training_loss"):
        return net.training_loss(x, target)
    if objective == "machine_id":
        return nn.functional.cross_entropy(net(x), target), {}
    return nn.functional.mse_loss(net(x), target), {}  # one fused kernel each way, not sub, pow and mean


def optimiser(net: nn.Module, learning_rate: float) -> torch.optim.Optimizer:
    """Adam, fused: one kernel per step for all parameters instead of a loop over them."""
    return torch.optim.Adam(net.parameters(), lr=learning_rate, fused=True)


def save(net: nn.Module, path: str | Path, saved: dict) -> None:
    """Write the network's weights with `saved` ({"fingerprint", "classes"}), whole or not at all."""
    with atomic_path(path) as tmp:
        torch.save({"state_dict": net.state_dict(), **saved}, tmp)


def load(solution, path: str | Path) -> tuple[nn.Module, dict]:
    """The saved network and what was saved with it ({"fingerprint", "classes"})."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    classes = saved.get("classes")
    net = solution.build_model(len(classes) if classes else None)
    net.load_state_dict(saved["state_dict"])
    return net.eval(), {"fingerprint": saved["fingerprint"], "classes": classes}


@torch.no_grad()
def predict(net: nn.Module, batch: np.ndarray) -> np.ndarray:
    """The network's output for a batch of inputs (a predicted target, or logits). [shape=(batch, *output)]"""
    return net.eval()(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))).numpy()


@torch.no_grad()
def embed(net: nn.Module, batch: np.ndarray) -> np.ndarray:
    """The network's embedding of a batch of inputs [shape=(batch, d)]; ConfigError if it has none."""
    if not hasattr(net, "embed"):
        raise ConfigError(f"scoring.vectors 'embedding' needs the network ({type(net).__name__}) to define "
                          f"embed(x); use scoring.vectors 'error' or add embed to model.py")
    return net.eval().embed(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))).numpy()
