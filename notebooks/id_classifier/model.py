"""A compact MobileFaceNet-like CNN that tells the machine IDs of one machine type apart, with an
ArcFace head (Deng et al., CVPR 2019), on log-mel segments.

Input: log-mel segments in dB [shape=(batch, n_mels, frames)] (inputs.kind ``segments``),
standardised inside the network as (dB - db_offset) / db_scale. Trunk, after MobileFaceNet
(Chen et al., 2018) and MobileNetV2's inverted residuals:

- a 3x3 stride-2 convolution to ``stem`` channels and a 3x3 depthwise convolution;
- one stage per entry of ``stages``: an inverted-residual bottleneck (1x1 expansion by
  ``expansion``, 3x3 depthwise, linear 1x1 projection) with stride 2, then one with stride 1 and
  a residual connection; every non-linear layer is BatchNorm + ReLU6 (MobileNetV2's; MobileFaceNet's
  per-channel PReLU took 40 % of a CPU training step in its backward pass);
- a 1x1 convolution to ``width`` channels, a global depthwise convolution over the whole
  remaining map (MobileFaceNet's GDConv, which weighs positions instead of averaging them) and a
  linear layer with BatchNorm to the ``embedding``-dimensional embedding.

The network keeps its convolution weights in channels-last memory format (so its feature maps
follow): on a CPU, oneDNN's depthwise convolutions run about 1.7 times faster in it than in the
default layout, in training and scoring alike (same arithmetic, other summation order).

With 128 mels x 64 frames and three stages the map before GDConv is 8 x 4. About 0.14 M
parameters and 9 M multiply-adds per segment: a training step on 64 segments takes about 85 ms
on two CPU cores in fp32 (114 ms in the default layout).

Head (``head``, helpers.detectors.heads): ``arcface`` (default), the additive angular margin.
Embeddings and class weights are L2-normalised, so a logit is ``scale * cos(theta)``, theta the
angle between an embedding and a class's weight. Training adds ``margin`` to the angle of the
true class, ``scale * cos(theta + margin)``, which makes the classes' regions tighter than plain
softmax would. A fixed scale rather than AdaCos's: AdaCos derives its scale from the number of
classes C, sqrt(2) * ln(C - 1) in its fixed form (where its dynamic form also starts), which for
the 2-4 IDs of a DCASE 2020 machine type is 0 to 1.6, too small for the softmax to express
confidence; a fixed scale of about 30 works for any C. The margin is a setting, 0.3 rad by
default (the middle of the 0.2-0.5 range that trains with 3-4 classes; the synthetic IDs are
told apart within two epochs). ``subcluster_adacos`` and ``adaproj`` keep ``subclusters``
centres (or basis vectors) per class instead, with an adaptive scale that starts from
C * subclusters (``dynamic_scale``; frozen centres unless ``trainable_centres``).

Contract (helpers.detectors.solution): ``forward(x)`` gives the logits WITHOUT margin
[shape=(batch, classes)], so that the scoring's softmax gives p(ID) and the own score ``nll`` is
-log p(own ID); ``training_loss(x, target)`` the cross-entropy of the margin logits and the
training accuracy; ``embed(x)`` the embedding [shape=(batch, embedding)] before normalisation,
for the density back ends (scoring.vectors ``embedding``).
"""
import functools
import math
from collections.abc import Callable

import torch
from torch import nn

from helpers.detectors import heads
from helpers.errors import ConfigError


def conv_bn(n_in: int, n_out: int, kernel, stride: int = 1, groups: int = 1, activation: bool = True) -> nn.Sequential:
    """Convolution (no bias), BatchNorm and, unless linear, ReLU6."""
    padding = (kernel - 1) // 2 if isinstance(kernel, int) else 0
    layers = [nn.Conv2d(n_in, n_out, kernel, stride, padding, groups=groups, bias=False), nn.BatchNorm2d(n_out)]
    return nn.Sequential(*layers, *([nn.ReLU6(inplace=True)] if activation else []))


class InvertedResidual(nn.Module):
    """1x1 expansion, 3x3 depthwise (with `stride`), linear 1x1 projection; a residual if the shape is kept."""

    def __init__(self, n_in: int, n_out: int, stride: int, expansion: int):
        super().__init__()
        hidden = n_in * expansion
        self.layers = nn.Sequential(conv_bn(n_in, hidden, 1), conv_bn(hidden, hidden, 3, stride, groups=hidden),
                                    conv_bn(hidden, n_out, 1, activation=False))
        self.residual = stride == 1 and n_in == n_out

    def forward(self, x):
        return x + self.layers(x) if self.residual else self.layers(x)


def halved(size: int, times: int) -> int:
    """The size left after `times` stride-2 3x3 convolutions with padding 1 (each rounds up)."""
    for _ in range(times):
        size = (size + 1) // 2
    return size


class IdClassifier(nn.Module):
    """[shape=(batch, n_mels, frames)] log-mel dB -> logits over the classes [shape=(batch, classes)]."""

    def __init__(self, n_mels: int, frames: int, stem: int, stages: list[int], expansion: int, width: int,
                 embedding: int, head: Callable[[], nn.Module], db_offset: float, db_scale: float):
        super().__init__()
        blocks, channels = [], stem
        for out in stages:
            blocks += [InvertedResidual(channels, out, 2, expansion), InvertedResidual(out, out, 1, expansion)]
            channels = out
        reduced = (halved(n_mels, len(stages) + 1), halved(frames, len(stages) + 1))
        self.trunk = nn.Sequential(conv_bn(1, stem, 3, 2), conv_bn(stem, stem, 3, groups=stem), *blocks,
                                   conv_bn(channels, width, 1),
                                   conv_bn(width, width, reduced, groups=width, activation=False))
        self.to_embedding = nn.Sequential(nn.Flatten(), nn.Linear(width, embedding, bias=False),
                                          nn.BatchNorm1d(embedding))
        self.head = head()  # made after the trunk: the same random draws as before heads were settings
        self.db_offset, self.db_scale = db_offset, db_scale

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding of each segment. [shape=(batch, embedding)]"""
        scaled = ((x - self.db_offset) / self.db_scale).unsqueeze(1)
        return self.to_embedding(self.trunk(scaled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The head's class logits without margin. [shape=(batch, classes)]"""
        return self.head(self.embed(x))

    def training_loss(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The head's training loss (`target`: class indices [shape=(batch,)]) and the batch's accuracy."""
        loss, logits = self.head.loss(self.embed(x), target)
        return loss, {"accuracy": (logits.argmax(dim=1) == target).float().mean()}


def build_model(input_shape, classes: int, stem: int = 16, stages=(24, 48, 96), expansion: int = 2,
                width: int = 256, embedding: int = 128, head: str = "arcface", scale: float = 30.0,
                margin: float = 0.3, subclusters: int = 16, dynamic_scale: bool = True,
                trainable_centres: bool = False, db_offset: float = -50.0, db_scale: float = 20.0) -> nn.Module:
    """The classifier for segments of `input_shape` = (n_mels, frames) and `classes` classes."""
    n_mels, frames = input_shape
    for name, value in (("stem", stem), ("expansion", expansion), ("width", width), ("embedding", embedding),
                        ("subclusters", subclusters)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"setting 'model.{name}' must be a positive integer, got {value!r}")
    if not stages or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in stages):
        raise ConfigError(f"setting 'model.stages' must be a non-empty list of positive integers "
                          f"(channels of each stride-2 stage), got {stages!r}")
    if not 0 <= margin < math.pi / 2:
        raise ConfigError(f"setting 'model.margin' must be an angle in radians in [0, pi/2), got {margin!r}")
    if scale <= 0 or db_scale <= 0:
        raise ConfigError(f"settings 'model.scale' and 'model.db_scale' must be positive, got {scale!r}, {db_scale!r}")
    classifier = functools.partial(heads.head, head, embedding, classes, scale=scale, margin=margin,
                                   subclusters=subclusters, dynamic=bool(dynamic_scale),
                                   trainable=bool(trainable_centres))
    net = IdClassifier(n_mels, frames, stem, list(stages), expansion, width, embedding, classifier,
                              float(db_offset), float(db_scale))
    return net.to(memory_format=torch.channels_last)
