"""What a network learns (config.yaml's ``training.objective``): one class per objective, one registry.

An objective owns everything that depends on what the network is trained for: the keyword
arguments ``build_model`` gets besides the model settings, the classes the training clips are
labelled with, the training target and loss, the item's own anomaly score (and the error vectors
a density back end can be fitted on), and what a clip view shows beside the score. Nothing
outside this module branches on an objective's name: a new objective is one class added to
:data:`OBJECTIVES`.

- ``reconstruction`` (:class:`Reconstruction`): the network predicts each item's target (the
  input itself for an autoencoder, the held-out middle frame for IDNN: helpers.detectors.inputs). Its own
  score, ``mse``, is the mean squared error of an item's prediction, the DCASE 2020 baseline's.
- ``pretrained`` (:class:`Pretrained`): nothing is trained; a frozen pretrained network's
  embeddings (inputs.kind ``embeddings``) are scored by a density back end.
- ``machine_id`` (:class:`MachineId`): the network outputs logits over the classes of its
  training clips (their sections, 2020: machine IDs; or, where there is one section, their
  attribute keys; prefixed by the machine type for a network of several types). Its own score,
  ``nll``, is the negative log-probability of the clip's own class. Where the training clips
  have one class only (one machine type with one section and no attributes: a single-ID folder,
  a 2024-2026 ``noAttribute`` type trained alone), the classes are found in the data: clusters
  of the clips' mean log-mel spectra (k-means, ``training.pseudo_classes`` of them), and a clip
  is scored by its most probable class.

Items and outputs are NumPy here; torch is imported only by :meth:`Objective.loss`, which
training calls.
"""
from __future__ import annotations

import difflib

import numpy as np

from helpers.errors import ConfigError, DataLayoutError
from helpers.detectors.inputs import Items

UNKNOWN = -1  # a clip's label where its class is not among the network's
MOST_PROBABLE = -2  # a clip's label where classes were found in the data: it is scored by its most probable class
CLUSTER = "~"  # in a class name, "<class>~<k>": cluster k of a class found in the data


class Objective:
    """What a network is trained for, and the score it gives by itself.

    own_score: the ``scoring.backend`` name of its own score (None: it has none, a density back end
    scores); score_label: that score's axis label; vectors: the kinds of vectors it can give a
    density back end, the first being what ``scoring.vectors: auto`` takes; keras_loss: the Keras
    loss it compiles with (None: torch only); trains: whether its network is trained at all.
    """

    name: str
    own_score: str | None
    score_label: str
    vectors: tuple[str, ...]
    keras_loss: str | None = None
    trains = True

    def build_arguments(self, input_kind: type[Items], target_shape: tuple[int, ...],
                        classes: int | None) -> dict:
        """What build_model gets besides the model settings (`classes`: the number of classes)."""
        return {}

    def required_arguments(self, input_kind: type[Items]) -> dict[str, str]:
        """{build_model argument this objective passes: what it is}, for checking model.py's signature."""
        return {}

    def fit_classes(self, clips: list, log_mels: list[np.ndarray], several_types: bool, pseudo_classes: int,
                    seed: int) -> tuple[list[str] | None, np.ndarray | None]:
        """(the classes a network tells apart, each training clip's index among them [shape=(clips,)])
        from its training clips and their log-mels [shape=(n_mels, frames)]; (None, None): it learns
        no classes. `pseudo_classes`: how many to find in the data where the clips have one class."""
        return None, None

    def labels(self, clips: list, classes: list[str] | None) -> np.ndarray | None:
        """Each clip's index in `classes` (UNKNOWN for a class not among them, MOST_PROBABLE for
        classes found in the data, or for attributes no training clip had, of a section whose
        classes are attribute keys); None without classes. [shape=(clips,)]"""
        return None

    def training_target(self, items: Items, index: np.ndarray, batch: np.ndarray) -> np.ndarray:
        """What the network is trained to output for the items `index` whose inputs are `batch`."""
        raise NotImplementedError

    def loss(self, output, target):
        """The training loss (torch tensors) of the network's output against :meth:`training_target`."""
        raise NotImplementedError

    def item_scores(self, output: np.ndarray, items: Items, index: np.ndarray, batch: np.ndarray,
                    errors: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(own score per item [shape=(len(index),)], error vectors [shape=(len(index), d)] when
        `errors`, else None) from the network's output for the items `index` (inputs `batch`)."""
        raise NotImplementedError

    def describe(self, view, items: Items, predictions: np.ndarray, classes: list[str] | None) -> None:
        """Fill what a clip view (helpers.experiments.inspection.ClipView) shows of this objective's outputs."""


class Reconstruction(Objective):
    name = "reconstruction"
    own_score = "mse"
    score_label = "squared error [dB²]"
    vectors = ("error", "embedding")
    keras_loss = "mse"

    def build_arguments(self, input_kind, target_shape, classes):
        return {} if input_kind.target_is_input else {"target_shape": target_shape}

    def required_arguments(self, input_kind):
        return {} if input_kind.target_is_input else {
            "target_shape": "the shape of the target it predicts, which is not the input"}

    def training_target(self, items, index, batch):
        return batch if items.target_is_input else items.targets(index)

    def loss(self, output, target):
        from torch import nn

        return nn.functional.mse_loss(output, target)  # one fused kernel each way, not sub, pow and mean

    def item_scores(self, output, items, index, batch, errors):
        target = self.training_target(items, index, batch)
        difference = output.reshape(len(index), -1) - target.reshape(len(index), -1)
        scores = np.square(difference).mean(axis=1, dtype=np.float64)
        return scores, difference.astype(np.float32) if errors else None

    def describe(self, view, items, predictions, classes):
        """The prediction (the reconstruction, or IDNN's middle frames) and the squared error, as
        images [shape=(n_mels, frames)], averaged over the items covering each bin."""
        everything = np.arange(len(items))
        target = items.targets(everything)
        squared = (predictions.reshape(target.shape) - target).astype(np.float64) ** 2
        placed = items.positions() + items.target_offset
        frames = view.log_mel.shape[1]
        view.reconstruction = _overlap_average(items.as_frames(predictions), placed, frames)
        view.error = _overlap_average(items.as_frames(squared), placed, frames)


class MachineId(Objective):
    name = "machine_id"
    own_score = "nll"
    score_label = "−log p(own class)"
    vectors = ("embedding",)

    def build_arguments(self, input_kind, target_shape, classes):
        return {"classes": classes}

    def required_arguments(self, input_kind):
        return {"classes": "the number of classes it tells apart"}

    @staticmethod
    def class_of(clip, by_attributes: bool, with_type: bool) -> str:
        """A clip's class: its section, or "<section>:<attributes>"; "<type>/..." when `with_type`."""
        own = f"{clip.section}:{clip.attributes}" if by_attributes else clip.section
        return f"{clip.machine_type}/{own}" if with_type else own

    def fit_classes(self, clips, log_mels, several_types, pseudo_classes, seed):
        """The classes, sorted: per machine type, the training clips' sections when there are two or
        more or the clips have no attributes, else their section-and-attribute keys (one-section
        editions, 2023+); "<type>/<class>" for a network of several types (a type with one class
        is one class among the others). Where that gives one class in all, `pseudo_classes`
        clusters of the clips' mean log-mel spectra, "<class>~<k>" (k-means, seeded);
        DataLayoutError for fewer than two training clips."""
        keys = set()
        for machine_type in dict.fromkeys(c.machine_type for c in clips):
            own = [c for c in clips if c.machine_type == machine_type]
            by_attributes = len({c.section for c in own}) == 1 and any(c.attributes for c in own)
            keys |= {self.class_of(c, by_attributes, several_types) for c in own}
        if len(keys) > 1:
            classes = sorted(keys)
            return classes, self.labels(clips, classes)
        if len(clips) < 2:
            raise DataLayoutError(f"training.objective 'machine_id' needs at least 2 training clips to find classes "
                                  f"in (its clips have one class, {', '.join(keys)}), got {len(clips)}")
        from sklearn.cluster import KMeans

        spectra = np.stack([np.asarray(m, np.float64).mean(axis=1) for m in log_mels])  # [clips, n_mels]
        count = min(pseudo_classes, len(clips))
        found = KMeans(count, n_init=10, random_state=seed).fit_predict(spectra)
        (only,) = keys
        return [f"{only}{CLUSTER}{k}" for k in range(count)], found.astype(np.int64)

    def labels(self, clips, classes):
        if classes is None:
            return None
        if CLUSTER in classes[0]:
            return np.full(len(clips), MOST_PROBABLE, np.int64)
        index = {key: i for i, key in enumerate(classes)}
        with_type = "/" in classes[0]
        by_attributes = {key.split("/")[0]: ":" in key for key in classes} if with_type else ":" in classes[0]

        def keyed(clip) -> bool:
            return by_attributes.get(clip.machine_type, False) if with_type else by_attributes

        sections = {key.split(":")[0] for key in classes if ":" in key}  # sections whose classes are attribute keys

        def label(clip) -> int:
            found = index.get(self.class_of(clip, keyed(clip), with_type))
            if found is not None:
                return found
            # attributes the training clips never had, of a section the network knows: its most probable class
            return MOST_PROBABLE if keyed(clip) and self.class_of(clip, False, with_type) in sections else UNKNOWN

        return np.array([label(c) for c in clips], dtype=np.int64)

    def training_target(self, items, index, batch):
        return items.labels_of(index)

    def loss(self, output, target):
        from torch import nn

        return nn.functional.cross_entropy(output, target)

    def item_scores(self, output, items, index, batch, errors):
        labels = items.labels_of(index)
        log_p = log_softmax(output)
        own = -log_p[np.arange(len(index)), np.maximum(labels, 0)]
        return np.where(labels >= 0, own, np.where(labels == MOST_PROBABLE, -log_p.max(axis=1), np.nan)), None

    def describe(self, view, items, predictions, classes):
        """The probability of each class over time [shape=(classes, items)], the classes and the
        clip's own; for a network of several types, only the classes of the clip's own type
        (view.machine_type), named without it."""
        probabilities = np.exp(log_softmax(predictions)).T
        shown = [i for i, c in enumerate(classes) if "/" not in c or c.split("/")[0] == view.machine_type]
        label = int(items.labels[0]) if len(items.labels) else UNKNOWN
        view.id_probabilities = probabilities[shown]
        view.classes = [classes[i].split("/", 1)[-1] for i in shown]
        view.own_class = classes[label].split("/", 1)[-1] if label >= 0 else None


class Pretrained(Objective):
    """A frozen pretrained network (inputs.kind ``embeddings`` gives its embeddings as items): nothing is
    trained, and a density back end scores the embeddings; the network of model.py passes them through."""

    name = "pretrained"
    own_score = None
    score_label = ""
    vectors = ("embedding",)
    trains = False

    def item_scores(self, output, items, index, batch, errors):
        return np.full(len(index), np.nan), None

    def describe(self, view, items, predictions, classes):
        """The embedding of each block [shape=(dims, items)]: what the network passes through."""
        view.embeddings = np.asarray(predictions, np.float32).reshape(len(items), -1).T


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (Reconstruction(), MachineId(), Pretrained())}


def objective(name: str, where: str = "training.objective") -> Objective:
    """The objective called `name`; ConfigError naming `where`, what is accepted and the closest name."""
    if name in OBJECTIVES:
        return OBJECTIVES[name]
    close = difflib.get_close_matches(str(name), OBJECTIVES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"{where}: unknown objective {name!r}{hint}; accepted: {', '.join(OBJECTIVES)}")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p per class, row by row, computed stably. [shape=logits.shape]

    The normaliser is log1p of the other classes' terms beside the largest one (whose term is 1),
    so that a confident row keeps the tiny -log p of its top class (about the sum of the other
    terms) instead of rounding it to 0 once it falls below float64's resolution next to 1 (about
    1e-16): such values still rank clips.
    """
    logits = np.asarray(logits, dtype=np.float64)
    top = logits.argmax(axis=1)
    shifted = logits - logits[np.arange(len(logits)), top][:, None]
    terms = np.exp(shifted)
    terms[np.arange(len(logits)), top] = 0.0
    return shifted - np.log1p(terms.sum(axis=1, keepdims=True))


def _overlap_average(pieces: np.ndarray, starts: np.ndarray, n_frames: int) -> np.ndarray:
    """Average time-major pieces [shape=(items, span, n_mels)] placed at `starts` -> [shape=(n_mels, n_frames)]."""
    n_items, span, n_mels = pieces.shape
    total = np.zeros((n_frames, n_mels))
    counts = np.zeros((n_frames, 1))
    index = (starts[:, None] + np.arange(span)).ravel()
    np.add.at(total, index, pieces.reshape(-1, n_mels))
    np.add.at(counts, index, 1.0)
    with np.errstate(invalid="ignore"):
        return (total / counts).T
