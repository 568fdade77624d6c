"""Running the PyTorch solutions' networks: batches, losses, weights as arrays, predicting.

Only torch is imported here: loading a trained model and scoring with it (the test and
visualisation notebooks) does not pay for Lightning's import. Training runs through the
Lightning loop of helpers.detectors.torch_training, which builds on what is here. The loss is the
network's own ``training_loss(x, target)`` when it defines one (the VAE, an angular-margin
head), else the objective's (helpers.detectors.objectives).
:func:`predict` and :func:`embed` are what scoring asks of a trained network.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from helpers.errors import ConfigError
from helpers.detectors.inputs import Items
from helpers.detectors.objectives import Objective


class ItemDataset(torch.utils.data.Dataset):
    """(inputs, targets) built per batch from Items (no per-item Python work); the targets are the
    objective's training targets (helpers.detectors.objectives: the reconstruction target, the same tensor
    as the inputs for an autoencoder, or each item's class index [shape=(batch,)])."""

    def __init__(self, items: Items, objective: Objective):
        self.items, self.objective = items, objective

    def __len__(self) -> int:
        return len(self.items)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = np.asarray(indices)
        batch = self.items.batch(index)
        x = torch.from_numpy(batch)
        target = self.objective.training_target(self.items, index, batch)
        return x, x if target is batch else torch.from_numpy(target)


def _as_batch(batch):
    return batch


def loader(items: Items, batch_size: int, shuffle: bool, objective: Objective,
           generator: torch.Generator | None = None) -> torch.utils.data.DataLoader:
    """A DataLoader of whole batches, shuffled (when `shuffle`) from `generator` (default: torch's
    global generator); Lightning swaps in a distributed sampler under DDP."""
    return torch.utils.data.DataLoader(ItemDataset(items, objective), batch_size=batch_size, shuffle=shuffle,
                                       collate_fn=_as_batch, generator=generator)


def network_loss(net: nn.Module, x: torch.Tensor, target: torch.Tensor, objective: Objective) -> tuple[torch.Tensor, dict]:
    """The network's own training loss if it defines one, else the objective's (helpers.detectors.objectives)."""
    if hasattr(net, "training_loss"):
        return net.training_loss(x, target)
    return objective.loss(net(x), target), {}


def optimiser(net: nn.Module, learning_rate: float) -> torch.optim.Optimizer:
    """Adam, fused: one kernel per step for all parameters instead of a loop over them."""
    return torch.optim.Adam(net.parameters(), lr=learning_rate, fused=True)


def weights(net: nn.Module) -> dict[str, np.ndarray]:
    """The network's parameters and buffers as plain arrays, by name (its state_dict)."""
    return {name: value.detach().cpu().numpy() for name, value in net.state_dict().items()}


def restore(solution, arrays: dict[str, np.ndarray], classes: int | None) -> nn.Module:
    """A network of `solution` (with `classes` for a classifier) holding the arrays of :func:`weights`."""
    net = solution.build_model(classes)
    net.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in arrays.items()})
    return net.eval()


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
