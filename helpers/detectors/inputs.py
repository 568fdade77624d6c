"""What the networks see: one registry of input kinds, each built per batch from per-clip log-mels.

A kind is one class in :data:`KINDS`, under the name config.yaml's ``inputs.kind`` gives. It
declares the shape of one network input and of its reconstruction target, the log-mel frames
one input needs, how a batch of inputs (and targets) is built from the concatenated log-mels of
many clips without a stacked copy in memory, whether training draws new items every epoch, and
where each item sits in time. Kinds:

- ``vectors`` (:class:`FrameVectors`): the baseline's stacked-frame vectors
  [shape=(n_mels * frames,)], target = the input.
- ``context`` (:class:`FrameContext`): the frames around a held-out middle frame, stacked
  [shape=(n_mels * (frames - 1),)], target = the middle frame [shape=(n_mels,)] (IDNN).
- ``segments`` (:class:`Segments`): log-mel segments [shape=(n_mels, segment_frames)]: random
  crops in training, crops every ``segment_step`` frames at test; target = the input.
- ``patches`` (:class:`Patches`): square segments [shape=(patch_size, patch_size)], n_mels = patch_size.
- ``segments_spectrum`` (:class:`SegmentsWithSpectrum`): two views of a clip for a two-branch
  network: a log-mel segment and the whole clip's magnitude spectrum in ``spectrum_bins`` bands
  (helpers.data.features.clip_spectrum), appended to the segment as spectrum_bins / n_mels more
  columns [shape=(n_mels, segment_frames + spectrum_bins / n_mels)]; the network splits them.
- ``embeddings`` (:class:`Embeddings`): a frozen pretrained network's embedding of each block of
  a clip [shape=(dims,)] (helpers.detectors.pretrained), for the ``pretrained`` objective.

Every kind keeps, for every item, the clip it came from (``clip_of``) and its first frame
(``starts``), so clip scores are means over their items and item scores can be drawn over time.
``build`` gets the clips themselves besides their log-mels, for a kind that reads more of them;
``random`` gives a few items of random values, for probing a network.
Items may carry a class label per clip (``labels``: the machine ID's index, -1 unknown) for
networks trained to tell machine IDs apart. Training, testing and inspection use the same classes.
"""
from __future__ import annotations

import numpy as np

from helpers.data import featurecache
from helpers.errors import ConfigError
from helpers.data.features import FeatureSettings


class Items:
    """Network inputs of many clips, built per batch from their log-mels concatenated along time.

    frames: [shape=(total_frames, n_mels)]; item i starts at frame ``starts[i]`` of clip
    ``clip_of[i]`` and covers ``span`` frames. Subclasses set ``clip_of`` and ``starts`` and
    define :meth:`batch`.
    """

    span: int
    target_offset = 0  # where the reconstruction target starts within an item's span, in frames
    target_frames: int  # frames the target covers
    target_is_input = True  # the reconstruction target is the input itself (an autoencoder's)

    def __init__(self, log_mels: list[np.ndarray], labels=None):
        if not log_mels:
            raise ConfigError("no usable clips: every clip was skipped or the folder is empty")
        self.n_mels = log_mels[0].shape[0]
        self.lengths = np.array([m.shape[1] for m in log_mels], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.frames = np.empty((int(self.lengths.sum()), self.n_mels), dtype=np.float32)
        for offset, logmel in zip(self.offsets, log_mels):
            self.frames[offset:offset + logmel.shape[1]] = logmel.T
        self.labels = np.full(len(log_mels), -1, np.int64) if labels is None else np.asarray(labels, np.int64)
        self.clip_of = np.empty(0, np.int64)
        self.starts = np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, items: np.ndarray) -> np.ndarray:
        """The network inputs of `items`. [shape=(len(items), *input shape)]"""
        raise NotImplementedError

    @classmethod
    def target_shape(cls, inputs: dict, features: FeatureSettings) -> tuple[int, ...]:
        """Shape of one item's reconstruction target (the input's shape by default)."""
        return cls.input_shape(inputs, features)

    def targets(self, items: np.ndarray) -> np.ndarray:
        """What a reconstruction objective predicts for `items` (the inputs themselves by default)."""
        return self.batch(items)

    def labels_of(self, items: np.ndarray) -> np.ndarray:
        """The class label of each item's clip (-1: unknown). [shape=(len(items),)]"""
        return self.labels[self.clip_of[np.asarray(items)]]

    @classmethod
    def build_arguments(cls, inputs: dict) -> dict:
        """What build_model gets from this kind besides the input shape (none by default)."""
        return {}

    @classmethod
    def identity(cls, inputs: dict) -> str:
        """What, beyond the settings, makes this kind's items differ (a pretrained network's weights); "" by default."""
        return ""

    @classmethod
    def required_arguments(cls) -> dict[str, str]:
        """{build_model argument this kind passes: what it is}, for checking model.py's signature."""
        return {}

    @classmethod
    def random(cls, inputs: dict, features: FeatureSettings, labels: list[int]) -> Items:
        """Test-time items of one clip per label, of random log-mels as short as one input allows."""
        rng = np.random.default_rng(0)
        frames = cls.min_frames(inputs, features)
        log_mels = [rng.normal(-40.0, 10.0, (features.n_mels, frames)).astype(np.float32) for _ in labels]
        return cls.build(log_mels, inputs, features, False, 0, labels)

    def resample(self) -> None:
        """Draw new items for the next training epoch (kinds with random crops); others keep theirs."""

    def random_state(self) -> dict | None:
        """The state of the generator :meth:`resample` draws from (None: no random draws)."""
        return None

    def set_random_state(self, state: dict | None) -> None:
        """Put back a state from :meth:`random_state`."""

    def positions(self) -> np.ndarray:
        """Each item's first frame within its own clip. [shape=(len(self),)]"""
        return self.starts - self.offsets[self.clip_of]

    def item_seconds(self, features: FeatureSettings) -> np.ndarray:
        """The centre of each item within its clip, in seconds. [shape=(len(self),)]"""
        return (self.positions() + self.span / 2) * features.hop_length / features.sample_rate

    def as_frames(self, values: np.ndarray) -> np.ndarray:
        """Per-item arrays of the target's shape, time-major. [shape=(items, target_frames, n_mels)]"""
        raise NotImplementedError


class FrameVectors(Items):
    """Stacked-frame vectors, frame-major: vector[n_mels * t + m] = log_mel[m, start + t]."""

    def __init__(self, log_mels: list[np.ndarray], frames: int, labels=None):
        super().__init__(log_mels, labels)
        self.frames_per_vector = self.span = self.target_frames = frames
        self.counts = np.maximum(self.lengths - frames + 1, 0)
        self.clip_of = np.repeat(np.arange(len(log_mels)), self.counts)
        within = np.arange(len(self.clip_of)) - np.repeat(np.cumsum(self.counts) - self.counts, self.counts)
        self.starts = self.offsets[self.clip_of] + within

    @classmethod
    def input_shape(cls, inputs: dict, features: FeatureSettings) -> tuple[int, ...]:
        return (features.n_mels * features.frames,)

    @classmethod
    def min_frames(cls, inputs: dict, features: FeatureSettings) -> int:
        return features.frames

    @classmethod
    def build(cls, log_mels, inputs: dict, features: FeatureSettings, training: bool, seed: int, labels=None,
              clips=None):
        return cls(log_mels, features.frames, labels)

    @property
    def dims(self) -> int:
        return self.n_mels * self.frames_per_vector

    def _stacked(self, items: np.ndarray, frames: np.ndarray) -> np.ndarray:
        index = self.starts[np.asarray(items)][:, None] + frames
        return self.frames[index].reshape(len(index), -1)

    def batch(self, items: np.ndarray) -> np.ndarray:
        """[shape=(len(items), n_mels * frames)]"""
        return self._stacked(items, np.arange(self.frames_per_vector))

    def as_frames(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values).reshape(len(values), self.target_frames, self.n_mels)


class FrameContext(FrameVectors):
    """The frames around a held-out middle frame, stacked frame-major; the target is the middle frame.

    With `frames` = 5: input = frames start, start+1, start+3, start+4 [shape=(n_mels * 4,)],
    target = frame start+2 [shape=(n_mels,)] (the interpolation DNN, IDNN).
    """

    target_is_input = False

    def __init__(self, log_mels: list[np.ndarray], frames: int, labels=None):
        if frames < 3 or frames % 2 == 0:
            raise ConfigError(f"features.frames must be odd and at least 3 for inputs.kind 'context' "
                              f"(the frames around one middle frame), got {frames}")
        super().__init__(log_mels, frames, labels)
        self.target_offset, self.target_frames = frames // 2, 1
        self.context = np.array([t for t in range(frames) if t != frames // 2])

    @classmethod
    def input_shape(cls, inputs: dict, features: FeatureSettings) -> tuple[int, ...]:
        return (features.n_mels * (features.frames - 1),)

    @classmethod
    def target_shape(cls, inputs: dict, features: FeatureSettings) -> tuple[int, ...]:
        """The middle frame: (n_mels,)."""
        return (features.n_mels,)

    @property
    def dims(self) -> int:
        return self.n_mels * len(self.context)

    def batch(self, items: np.ndarray) -> np.ndarray:
        """[shape=(len(items), n_mels * (frames - 1))]"""
        return self._stacked(items, self.context)

    def targets(self, items: np.ndarray) -> np.ndarray:
        """The middle frames. [shape=(len(items), n_mels)]"""
        return self.frames[self.starts[np.asarray(items)] + self.target_offset]


class Segments(Items):
    """Log-mel segments [shape=(n_mels, width)] of many clips; clips shorter than `width` give none.

    With `step`, items are the fixed crops at frames 0, step, 2*step, ... (the last one aligned
    to the clip's end); without, `crops_per_clip` random crops per clip are drawn by :meth:`resample`.
    """

    def __init__(self, log_mels: list[np.ndarray], width: int, step: int | None = None,
                 crops_per_clip: int = 8, seed: int = 0, labels=None):
        super().__init__(log_mels, labels)
        self.width = self.span = self.target_frames = width
        self.step, self.crops_per_clip = step, crops_per_clip
        self.usable = np.flatnonzero(self.lengths >= width)
        self.rng = np.random.default_rng(seed)
        if step is not None:
            clip_of, starts = [], []
            for clip in self.usable:
                last = self.lengths[clip] - width
                offsets = np.unique(np.r_[np.arange(0, last + 1, step), last])
                clip_of.append(np.full(len(offsets), clip))
                starts.append(self.offsets[clip] + offsets)
            self.clip_of = np.concatenate(clip_of) if clip_of else np.empty(0, np.int64)
            self.starts = np.concatenate(starts) if starts else np.empty(0, np.int64)
        else:
            self.resample()

    WIDTH, STEP = "segment_frames", "segment_step"  # the inputs settings of the width and the test step

    @classmethod
    def input_shape(cls, inputs: dict, features: FeatureSettings) -> tuple[int, ...]:
        return (features.n_mels, inputs[cls.WIDTH])

    @classmethod
    def min_frames(cls, inputs: dict, features: FeatureSettings) -> int:
        return inputs[cls.WIDTH]

    @classmethod
    def build(cls, log_mels, inputs: dict, features: FeatureSettings, training: bool, seed: int, labels=None,
              clips=None):
        return cls(log_mels, inputs[cls.WIDTH], None if training else inputs[cls.STEP],
                   inputs["crops_per_clip"], seed, labels)

    def resample(self) -> None:
        """Draw new random crops (called once per training epoch); fixed crops stay."""
        if self.step is not None:
            return
        self.clip_of = np.repeat(self.usable, self.crops_per_clip)
        room = self.lengths[self.clip_of] - self.width + 1
        self.starts = self.offsets[self.clip_of] + (self.rng.random(len(self.clip_of)) * room).astype(np.int64)

    def random_state(self) -> dict | None:
        return self.rng.bit_generator.state if self.step is None else None

    def set_random_state(self, state: dict | None) -> None:
        if state is not None:
            self.rng.bit_generator.state = state

    def batch(self, items: np.ndarray) -> np.ndarray:
        """The segments of `items`, mel by time. [shape=(len(items), n_mels, width)]"""
        index = self.starts[np.asarray(items)][:, None] + np.arange(self.width)
        return self.frames[index].transpose(0, 2, 1)

    def as_frames(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values).reshape(len(values), self.n_mels, self.width).transpose(0, 2, 1)


class Patches(Segments):
    """Square log-mel patches [shape=(size, size)]: segments as wide as the log-mel is high."""

    WIDTH, STEP = "patch_size", "patch_step"

    def __init__(self, log_mels: list[np.ndarray], size: int, step: int | None = None,
                 crops_per_clip: int = 8, seed: int = 0, labels=None):
        if log_mels and log_mels[0].shape[0] != size:
            raise ConfigError(f"patch size {size} must equal features.n_mels ({log_mels[0].shape[0]}) for square patches")
        super().__init__(log_mels, size, step, crops_per_clip, seed, labels)
        self.size = size


class SegmentsWithSpectrum(Segments):
    """Log-mel segments with their clip's whole spectrum appended as more columns.

    [shape=(n_mels, width + bins / n_mels)]: columns [0, width) are the segment, the rest the
    spectrum's bands in order, row-major (band b at row b // (bins / n_mels)).
    """

    def __init__(self, log_mels: list[np.ndarray], spectra: np.ndarray, width: int, step: int | None = None,
                 crops_per_clip: int = 8, seed: int = 0, labels=None):
        super().__init__(log_mels, width, step, crops_per_clip, seed, labels)
        self.spectra = np.asarray(spectra, np.float32).reshape(len(log_mels), self.n_mels, -1)

    @classmethod
    def input_shape(cls, inputs: dict, features: FeatureSettings) -> tuple[int, ...]:
        return (features.n_mels, inputs[cls.WIDTH] + cls._columns(inputs, features))

    @classmethod
    def build_arguments(cls, inputs: dict) -> dict:
        return {"bins": inputs["spectrum_bins"]}

    @classmethod
    def required_arguments(cls) -> dict[str, str]:
        return {"bins": "the number of spectrum bands appended to each segment (inputs.spectrum_bins)"}

    @staticmethod
    def _columns(inputs: dict, features: FeatureSettings) -> int:
        bins = inputs["spectrum_bins"]
        if bins % features.n_mels:
            raise ConfigError(f"setting 'inputs.spectrum_bins' ({bins}) must be a multiple of features.n_mels "
                              f"({features.n_mels}) for inputs.kind 'segments_spectrum', e.g. "
                              f"{max(1, round(bins / features.n_mels)) * features.n_mels}")
        return bins // features.n_mels

    @classmethod
    def build(cls, log_mels, inputs: dict, features: FeatureSettings, training: bool, seed: int, labels=None,
              clips=None):
        """Items of these clips; their spectra are read through the feature cache (helpers.data.featurecache)."""
        cls._columns(inputs, features)
        if clips is None:
            raise ConfigError("inputs.kind 'segments_spectrum' reads each clip's spectrum from its file: "
                              "build its items with the clips")
        found = featurecache.spectra([c.path for c in clips], features, inputs["spectrum_bins"], progress=False)
        spectra = np.stack([found[str(c.path)] for c in clips]) if clips else np.empty((0, 1, inputs["spectrum_bins"]))
        return cls(log_mels, spectra, inputs[cls.WIDTH], None if training else inputs[cls.STEP],
                   inputs["crops_per_clip"], seed, labels)

    @classmethod
    def random(cls, inputs: dict, features: FeatureSettings, labels: list[int]) -> Items:
        rng = np.random.default_rng(0)
        log_mels = [rng.normal(-40.0, 10.0, (features.n_mels, inputs[cls.WIDTH])).astype(np.float32) for _ in labels]
        spectra = rng.normal(0.0, 20.0, (len(labels), inputs["spectrum_bins"]))
        return cls(log_mels, spectra, inputs[cls.WIDTH], inputs[cls.STEP], inputs["crops_per_clip"], 0, labels)

    def batch(self, items: np.ndarray) -> np.ndarray:
        """The segments of `items` with their clips' spectra. [shape=(len(items), n_mels, width + bins / n_mels)]"""
        return np.concatenate([super().batch(items), self.spectra[self.clip_of[np.asarray(items)]]], axis=2)


class Embeddings(FrameVectors):
    """A frozen pretrained network's embeddings of each clip's blocks, one item per block
    [shape=(dims,)] (helpers.detectors.pretrained: inputs.extractor, inputs.checkpoint), computed from
    the clip's file once and kept in the feature cache; the log-mels are not used. Item i is block
    ``positions()[i]`` of its clip."""

    def __init__(self, embeddings: list[np.ndarray], block_seconds: float, hop_seconds: float, labels=None):
        super().__init__([np.asarray(e, np.float32).T for e in embeddings], 1, labels)
        self.block_seconds, self.hop_seconds = block_seconds, hop_seconds

    @staticmethod
    def extractor(inputs: dict):
        """The extractor the settings name, loaded once per process."""
        from helpers.detectors import pretrained

        return pretrained.extractor(inputs["extractor"], inputs["checkpoint"] or None)

    @classmethod
    def input_shape(cls, inputs: dict, features: FeatureSettings) -> tuple[int, ...]:
        return (cls.extractor(inputs).dims,)

    @classmethod
    def identity(cls, inputs: dict) -> str:
        return cls.extractor(inputs).identity

    @classmethod
    def min_frames(cls, inputs: dict, features: FeatureSettings) -> int:
        return 1

    @classmethod
    def build(cls, log_mels, inputs: dict, features: FeatureSettings, training: bool, seed: int, labels=None,
              clips=None):
        """Items of these clips' embeddings, read through the feature cache (computed where missing)."""
        if clips is None:
            raise ConfigError("inputs.kind 'embeddings' embeds each clip's file: build its items with the clips")
        extractor = cls.extractor(inputs)
        found = featurecache.derived_arrays([c.path for c in clips], features, extractor.derived(),
                                            desc=f"{extractor.name} embeddings")
        missing = [str(c.path) for c in clips if str(c.path) not in found]
        if missing:
            raise ConfigError(f"{missing[0]}: no {extractor.name} embedding (see the skipped files)")
        return cls([found[str(c.path)] for c in clips], extractor.block_seconds, extractor.hop_seconds, labels)

    @classmethod
    def random(cls, inputs: dict, features: FeatureSettings, labels: list[int]) -> Items:
        extractor = cls.extractor(inputs)
        rng = np.random.default_rng(0)
        embeddings = [rng.normal(size=(1, extractor.dims)).astype(np.float32) for _ in labels]
        return cls(embeddings, extractor.block_seconds, extractor.hop_seconds, labels)

    def item_seconds(self, features: FeatureSettings) -> np.ndarray:
        return self.positions() * self.hop_seconds + self.block_seconds / 2


KINDS: dict[str, type[Items]] = {"vectors": FrameVectors, "context": FrameContext, "segments": Segments,
                                 "patches": Patches, "segments_spectrum": SegmentsWithSpectrum, "embeddings": Embeddings}


def kind(name: str) -> type[Items]:
    """The class of the input kind `name` (config.yaml's inputs.kind)."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown input kind {name!r}; accepted: {', '.join(KINDS)}") from None
