"""Angular classification heads for machine-ID networks (torch): one module per head, one registry.

A head maps an embedding [shape=(batch, embedding)] to class logits [shape=(batch, classes)]
(``forward``: what the objective's softmax and its own score ``nll`` read) and gives the
training loss against class indices [shape=(batch,)] (``loss``). Every head compares the
L2-normalised embedding with L2-normalised class weights, so its logits are a scale times a
cosine-like similarity:

- ``arcface`` (:class:`ArcFace`, Deng et al. 2019): one weight per class; training adds an
  angular ``margin`` to the true class's angle; a fixed ``scale``.
- ``subcluster_adacos`` (:class:`SubClusterAdaCos`, Wilkinghoff 2021): ``subclusters`` centres
  per class, frozen at their random start unless ``trainable``; a class's probability is the
  sum of its centres' softmax probabilities (its logit: the log-sum-exp of its centres'
  logits); no margin; the scale starts at sqrt(2) ln(C K - 1) and, when ``dynamic``, is set
  anew before every training batch from that batch's cosines (AdaCos's rule, as the sub-cluster
  variant states it).
- ``adaproj`` (:class:`AdaProj`, Wilkinghoff 2024): per class, ``subclusters`` unit basis
  vectors; a class's cosine is that of the embedding with its projection onto the span of
  the class's basis vectors (summed as if they were orthonormal); scale and its update as AdaCos.

Sub-cluster AdaCos and AdaProj keep the classes' sub-structure that ArcFace collapses to one
point per class. Both were checked against the public code of the ASD toolkit
(TakuyaFujimura/dcase-asd-toolkit, asdkit/losses/scadacos.py and adaproj.py) on fixed inputs
(tests/test_heads.py). Where that code and Wilkinghoff's own differ, this module follows the
latter: centres laid out class-major in the scale update (the toolkit's tiles them), and
AdaProj's starting scale from C K - 1 (the toolkit's C - 1 is 0 for two classes).
"""
from __future__ import annotations

import difflib
import math

import torch
from torch import nn
from torch.nn import functional as F

from helpers.errors import ConfigError


class ArcFace(nn.Module):
    """One weight per class; logits scale * cos(theta); training: scale * cos(theta + margin) for the true class."""

    def __init__(self, embedding: int, classes: int, scale: float = 30.0, margin: float = 0.3, **_unused):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(classes, embedding))
        nn.init.xavier_uniform_(self.weight)
        self.classes, self.scale, self.margin = classes, float(scale), float(margin)

    def cosines(self, x: torch.Tensor) -> torch.Tensor:
        """cos(theta) between each normalised embedding and each normalised class weight. [shape=(batch, classes)]"""
        return F.linear(F.normalize(x), F.normalize(self.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.cosines(x)

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cross-entropy of the margin logits, the logits without margin)."""
        cosine = self.cosines(x)
        sine = torch.sqrt((1.0 - cosine ** 2).clamp(min=1e-7))
        with_margin = cosine * math.cos(self.margin) - sine * math.sin(self.margin)  # cos(theta + margin)
        # past theta = pi - margin, cos(theta + margin) would rise again: continue it linearly downwards
        with_margin = torch.where(cosine > -math.cos(self.margin), with_margin,
                                  cosine - math.sin(self.margin) * self.margin)
        own = F.one_hot(target, cosine.shape[1]).bool()
        loss = F.cross_entropy(self.scale * torch.where(own, with_margin, cosine), target)
        return loss, self.scale * cosine


class _Adaptive(nn.Module):
    """The AdaCos scale shared by the sub-cluster heads: a buffer (saved with the weights),
    updated before each training batch when ``dynamic``."""

    def __init__(self, start: float, dynamic: bool):
        super().__init__()
        self.register_buffer("scale", torch.tensor(float(start), dtype=torch.float32))
        self.dynamic = dynamic

    def adapted(self, cosines: torch.Tensor, others: torch.Tensor, own_angle: torch.Tensor) -> None:
        """Set the scale from a training batch: (max + log B_avg) / cos(min(pi/4, median own angle)),
        B_avg the batch mean of sum exp(scale * `others` - max) [others: shape=(batch, n)], the max
        over scale * `cosines`; `own_angle`: the true class's angle per item [shape=(batch,)]."""
        with torch.no_grad():
            logits = self.scale * cosines
            top = logits.max()
            average = torch.exp(self.scale * others - top).sum(dim=1).mean()
            median = torch.median(own_angle).clamp(max=math.pi / 4)
            self.scale.copy_((top + torch.log(average)) / torch.cos(median))


def _angles(cosines: torch.Tensor) -> torch.Tensor:
    return torch.acos(cosines.clamp(-1 + 1e-7, 1 - 1e-7))


class SubClusterAdaCos(_Adaptive):
    """`subclusters` centres per class, class-major ([shape=(classes * subclusters, embedding)]:
    row j belongs to class j // subclusters); class logit = logsumexp of its centres' scale * cos."""

    def __init__(self, embedding: int, classes: int, subclusters: int = 16, dynamic: bool = True,
                 trainable: bool = False, **_unused):
        super().__init__(math.sqrt(2) * math.log(max(classes * subclusters - 1, 2)), dynamic)
        self.classes, self.subclusters = classes, subclusters
        self.centres = nn.Parameter(torch.empty(classes * subclusters, embedding), requires_grad=trainable)
        nn.init.xavier_uniform_(self.centres)

    def cosines(self, x: torch.Tensor) -> torch.Tensor:
        """cos between each normalised embedding and each normalised centre. [shape=(batch, classes * subclusters)]"""
        return F.linear(F.normalize(x), F.normalize(self.centres))

    def class_logits(self, cosines: torch.Tensor) -> torch.Tensor:
        grouped = (self.scale * cosines).view(len(cosines), self.classes, self.subclusters)
        return torch.logsumexp(grouped, dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.class_logits(self.cosines(x))

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cross-entropy of the class logits after this batch's scale update, those logits).
        `target`: class indices [shape=(batch,)] or class probabilities [shape=(batch, classes)] (mixup)."""
        cosines = self.cosines(x)
        if self.training and self.dynamic:
            weights = _class_weights(target, self.classes).repeat_interleave(self.subclusters, dim=1)
            self.adapted(cosines, cosines, (weights * _angles(cosines)).sum(dim=1))
        logits = self.class_logits(cosines)
        return F.cross_entropy(logits, target), logits


class AdaProj(_Adaptive):
    """`subclusters` unit basis vectors per class ([shape=(classes, subclusters, embedding)]); class
    cosine = cos(x, P_c x), P_c x = sum_k (x . w_ck) w_ck; class logit = scale * that cosine."""

    def __init__(self, embedding: int, classes: int, subclusters: int = 16, dynamic: bool = True,
                 trainable: bool = False, **_unused):
        super().__init__(math.sqrt(2) * math.log(max(classes * subclusters - 1, 2)), dynamic)
        self.classes = classes
        self.basis = nn.Parameter(torch.empty(classes, subclusters, embedding), requires_grad=trainable)
        nn.init.xavier_uniform_(self.basis.data.view(classes * subclusters, embedding))

    def cosines(self, x: torch.Tensor) -> torch.Tensor:
        """cos between each normalised embedding and its projection on each class's span. [shape=(batch, classes)]"""
        unit, basis = F.normalize(x), F.normalize(self.basis, dim=2)
        projected = torch.einsum("bck,ckd->bcd", torch.einsum("bd,ckd->bck", unit, basis), basis)
        return torch.einsum("bd,bcd->bc", unit, F.normalize(projected, dim=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.cosines(x)

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cross-entropy of the logits after this batch's scale update, those logits); `target` as SubClusterAdaCos's."""
        cosines = self.cosines(x)
        if self.training and self.dynamic:
            weights = _class_weights(target, self.classes)
            others = torch.where(weights > 0, torch.zeros_like(cosines), cosines)  # the true class counts as exp(0)
            self.adapted(cosines, others, (weights * _angles(cosines)).sum(dim=1))
        logits = self.scale * cosines
        return F.cross_entropy(logits, target), logits


def _class_weights(target: torch.Tensor, classes: int) -> torch.Tensor:
    """One-hot rows for class indices, or the given class probabilities. [shape=(batch, classes)]"""
    return F.one_hot(target, classes).to(torch.float32) if target.dim() == 1 else target


HEADS = {"arcface": ArcFace, "subcluster_adacos": SubClusterAdaCos, "adaproj": AdaProj}


def head(name: str, embedding: int, classes: int, **settings) -> nn.Module:
    """The head called `name` (model.head) for `embedding`-dimensional embeddings and `classes`
    classes. `settings`: any of scale, margin (arcface), subclusters, dynamic, trainable
    (subcluster_adacos, adaproj); each head takes its own and ignores the others', so that a
    model passes its settings whatever head is chosen. ConfigError naming what is accepted and
    the closest name for an unknown head."""
    if name not in HEADS:
        close = difflib.get_close_matches(str(name), HEADS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"setting 'model.head': unknown head {name!r}{hint}; accepted: {', '.join(HEADS)}")
    return HEADS[name](embedding, classes, **settings)
