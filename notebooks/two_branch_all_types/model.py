"""One network for every machine type of a data folder, on two views of each clip: a log-mel segment
and the whole clip's magnitude spectrum (after Wilkinghoff's two-branch network, ICASSP 2023 and
AdaProj 2024, and the ASD toolkit's MultiResNet), trained to tell apart the classes of all types at
once (type x section x attributes) with sub-cluster AdaCos, mixup and feature exchange (FeatEx).

Input (inputs.kind ``segments_spectrum``): [shape=(batch, n_mels, frames + bins / n_mels)], a
log-mel segment in dB (its first ``frames`` columns) and the clip's spectrum in dB in ``bins``
bands (the rest, row-major: helpers.detectors.inputs.SegmentsWithSpectrum).

- **Log-mel branch**: the segment minus its mean over time per mel band (the reference's
  temporal mean normalisation), divided by ``db_scale``; a 3x3 stride-2 convolution to
  ``mel_channels[0]``, then per entry of ``mel_channels`` a residual block of two 3x3
  convolutions (stride 2 after the first), BatchNorm + ReLU; max over frequency, mean over time;
  a linear layer with BatchNorm to ``branch_embedding`` dimensions.
- **Spectrum branch**: the spectrum standardised over its bands (zero mean, unit variance per
  clip); three 1-D convolutions (kernels 64, 16, 8; strides 16, 4, 2; ``spectrum_channels``),
  ReLU; two linear layers (BatchNorm + ReLU between) to ``branch_embedding`` dimensions.
- **Embedding**: [spectrum embedding, log-mel embedding], concatenated
  [shape=(batch, 2 * branch_embedding)]: what a density back end is fitted on.

Head (``head``, helpers.detectors.heads): ``subcluster_adacos`` by default, or ``adaproj``, or
``arcface``. Training:

- **mixup** (probability ``mixup`` per batch): the batch mixed with itself reversed, inputs and
  targets alike, with a weight drawn from U(0, 1) per item (the reference mixes waveforms; the
  dB views are mixed here, which is close where one clip dominates).
- **FeatEx** (``featex``): each item, with probability 1/2, keeps its spectrum embedding and takes
  the log-mel embedding of another item of the batch (a random permutation); a second
  sub-cluster AdaCos head with trainable centres (weighted ``featex_weight``) learns 3 C
  classes: an unchanged item's own class, and for an exchanged one half the class of each part,
  offset by C and 2 C. The main head learns the unexchanged embeddings.

Contract (helpers.detectors.solution): ``forward(x)``: the head's class logits [shape=(batch,
classes)]; ``training_loss(x, target)``: the loss and the training accuracy; ``embed(x)``:
the embedding. Mixup and FeatEx draw from torch's global generator (the trainer seeds it).
"""
import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from helpers.detectors import heads
from helpers.errors import ConfigError


SPECTRUM_CONVOLUTIONS = ((64, 16), (16, 4), (8, 2))  # (kernel, stride) of the spectrum branch's 1-D convolutions


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm; the input added back (through a strided 1x1 convolution
    when the shape changes); ReLU after."""

    def __init__(self, n_in: int, n_out: int, stride: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(n_in, n_out, 3, stride, 1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU(inplace=True),
            nn.Conv2d(n_out, n_out, 3, 1, 1, bias=False), nn.BatchNorm2d(n_out))
        self.shortcut = nn.Identity() if stride == 1 and n_in == n_out else nn.Sequential(
            nn.Conv2d(n_in, n_out, 1, stride, bias=False), nn.BatchNorm2d(n_out))

    def forward(self, x):
        return F.relu(self.layers(x) + self.shortcut(x))


class TwoBranchClassifier(nn.Module):
    """[shape=(batch, n_mels, frames + bins / n_mels)] -> class logits [shape=(batch, classes)]."""

    def __init__(self, n_mels: int, frames: int, bins: int, mel_channels: list[int], spectrum_channels: list[int],
                 branch_embedding: int, head: Callable[[int], nn.Module], extra_head: Callable[[int], nn.Module] | None,
                 mixup: float, featex_weight: float, db_scale: float):
        super().__init__()
        self.frames, self.bins = frames, bins
        blocks = [nn.Conv2d(1, mel_channels[0], 3, 2, 1, bias=False), nn.BatchNorm2d(mel_channels[0]),
                  nn.ReLU(inplace=True)]
        for n_in, n_out in zip(mel_channels[:1] + mel_channels[:-1], mel_channels):
            blocks.append(ResidualBlock(n_in, n_out, 2))
        self.mel_trunk = nn.Sequential(*blocks)
        self.mel_embedding = nn.Sequential(nn.Linear(mel_channels[-1], branch_embedding, bias=False),
                                           nn.BatchNorm1d(branch_embedding))
        layers, n_in = [], 1
        for n_out, (kernel, stride) in zip(spectrum_channels, SPECTRUM_CONVOLUTIONS):
            layers += [nn.Conv1d(n_in, n_out, kernel, stride), nn.ReLU(inplace=True)]
            n_in = n_out
        self.spectrum_trunk = nn.Sequential(*layers, nn.Flatten())
        length = bins
        for kernel, stride in SPECTRUM_CONVOLUTIONS:
            length = (length - kernel) // stride + 1
        self.spectrum_embedding = nn.Sequential(
            nn.Linear(n_in * length, branch_embedding, bias=False), nn.BatchNorm1d(branch_embedding),
            nn.ReLU(inplace=True), nn.Linear(branch_embedding, branch_embedding))
        self.head = head(2 * branch_embedding)
        self.extra_head = extra_head(2 * branch_embedding) if extra_head else None
        self.mixup, self.featex_weight, self.db_scale = mixup, featex_weight, db_scale

    def branches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(spectrum embedding, log-mel embedding), each [shape=(batch, branch_embedding)]."""
        segment, spectrum = x[..., :self.frames], x[..., self.frames:].reshape(len(x), 1, -1)
        segment = (segment - segment.mean(dim=2, keepdim=True)) / self.db_scale
        maps = self.mel_trunk(segment.unsqueeze(1))
        mel = self.mel_embedding(maps.amax(dim=2).mean(dim=2))
        spectrum = (spectrum - spectrum.mean(dim=2, keepdim=True)) / spectrum.std(dim=2, keepdim=True).clamp(min=1e-3)
        return self.spectrum_embedding(self.spectrum_trunk(spectrum)), mel

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding: both branches' embeddings, concatenated. [shape=(batch, 2 * branch_embedding)]"""
        return torch.cat(self.branches(x), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The head's class logits. [shape=(batch, classes)]"""
        return self.head(self.embed(x))

    def training_loss(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The head's loss on the (mixed) batch, plus FeatEx's; `target`: class indices [shape=(batch,)]."""
        soft = F.one_hot(target, self.head.classes).to(x.dtype)
        if self.mixup > 0 and torch.rand(()) < self.mixup:
            weight = torch.rand(len(x), 1, dtype=x.dtype)
            x = weight[:, :, None] * x + (1 - weight[:, :, None]) * x.flip(0)
            soft = weight * soft + (1 - weight) * soft.flip(0)
        spectrum, mel = self.branches(x)
        loss, logits = self.head.loss(torch.cat([spectrum, mel], dim=1), soft if self.mixup > 0 else target)
        parts = {"accuracy": (logits.argmax(dim=1) == soft.argmax(dim=1)).float().mean()}
        if self.extra_head is not None:
            exchanged, labels = feature_exchange(spectrum, mel, soft)
            extra, _ = self.extra_head.loss(exchanged, labels)
            parts["featex"] = extra.detach()
            loss = loss + self.featex_weight * extra
        return loss, parts


def feature_exchange(first: torch.Tensor, second: torch.Tensor, soft: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FeatEx: (embeddings [shape=(batch, 2 d)], their labels over 3 C classes [shape=(batch, 3 C)]).

    Each item, with probability 1/2, keeps its `first` part and takes the `second` part of item
    perm[i] (a random permutation); its label is then half its own class (offset C) and half the
    partner's (offset 2 C); an unchanged item keeps its class (offset 0). `soft`: class
    probabilities [shape=(batch, C)]."""
    partner = torch.randperm(len(first))
    swapped = torch.rand(len(first)) < 0.5
    second = torch.where(swapped[:, None], second[partner], second)
    zeros = torch.zeros_like(soft)
    labels = torch.where(swapped[:, None], torch.cat([zeros, 0.5 * soft, 0.5 * soft[partner]], dim=1),
                         torch.cat([soft, zeros, zeros], dim=1))
    return torch.cat([first, second], dim=1), labels


def build_model(input_shape, classes: int, bins: int, mel_channels=(16, 32, 64, 128),
                spectrum_channels=(32, 64, 64), branch_embedding: int = 128, head: str = "subcluster_adacos",
                subclusters: int = 16, dynamic_scale: bool = True, scale: float = 30.0, margin: float = 0.3,
                mixup: float = 0.5, featex: bool = True, featex_weight: float = 1.0,
                db_scale: float = 20.0) -> nn.Module:
    """The two-branch classifier for inputs of `input_shape` = (n_mels, frames + bins / n_mels),
    `classes` classes and `bins` spectrum bands (inputs.spectrum_bins, passed by the input kind)."""
    n_mels, columns = input_shape
    for name, values in (("mel_channels", mel_channels), ("spectrum_channels", spectrum_channels)):
        if not values or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in values):
            raise ConfigError(f"setting 'model.{name}' must be a non-empty list of positive integers, got {values!r}")
    if len(spectrum_channels) != 3:
        raise ConfigError(f"setting 'model.spectrum_channels' must list the channels of its 3 convolutions, "
                          f"got {spectrum_channels!r}")
    if not 0 <= mixup <= 1:
        raise ConfigError(f"setting 'model.mixup' must be a probability in [0, 1], got {mixup!r}")
    if head == "arcface" and mixup > 0:
        raise ConfigError("setting 'model.head' 'arcface' adds its margin to one true class per item, which a "
                          "mixed item lacks: set model.mixup to 0, or take 'subcluster_adacos' or 'adaproj'")
    main = functools.partial(heads.head, head, classes=classes, scale=scale, margin=margin,
                             subclusters=subclusters, dynamic=bool(dynamic_scale), trainable=False)
    extra = functools.partial(heads.head, "subcluster_adacos", classes=3 * classes, subclusters=subclusters,
                              dynamic=False, trainable=True) if featex else None
    return TwoBranchClassifier(n_mels, columns - bins // n_mels, bins, list(mel_channels), list(spectrum_channels),
                               branch_embedding, main, extra, float(mixup), float(featex_weight), float(db_scale))
