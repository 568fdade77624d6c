"""What the networks see, built from per-clip log-mels without a stacked copy in memory.

- :class:`FrameVectors`: the baseline's stacked-frame vectors [shape=(n_mels * frames,)], made
  per batch from one concatenated log-mel array (the log-mel's size, not five times it).
- :class:`Patches`: square log-mel patches [shape=(size, size)] (n_mels must equal size):
  random crops for training, crops every `step` frames for testing.
Both keep, for every item, the clip it came from, so clip scores are means over their items.
Training and testing use the same classes: one feature path.
"""
from __future__ import annotations

import numpy as np

from helpers.errors import ConfigError


class _ClipFrames:
    """Many clips' log-mels concatenated along time. [shape=(total_frames, n_mels)]"""

    def __init__(self, log_mels: list[np.ndarray]):
        if not log_mels:
            raise ConfigError("no usable clips: every clip was skipped or the folder is empty")
        self.n_mels = log_mels[0].shape[0]
        self.lengths = np.array([m.shape[1] for m in log_mels], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.frames = np.empty((int(self.lengths.sum()), self.n_mels), dtype=np.float32)
        for offset, logmel in zip(self.offsets, log_mels):
            self.frames[offset:offset + logmel.shape[1]] = logmel.T


class FrameVectors(_ClipFrames):
    """Stacked-frame vectors of many clips, in clip order, built per batch.

    Item i is the vector starting at frame ``starts[i]``; ``clip_of[i]`` is its clip's position.
    """

    def __init__(self, log_mels: list[np.ndarray], frames: int):
        super().__init__(log_mels)
        self.frames_per_vector = frames
        counts = np.maximum(self.lengths - frames + 1, 0)
        self.clip_of = np.repeat(np.arange(len(log_mels)), counts)
        within = np.arange(len(self.clip_of)) - np.repeat(np.cumsum(counts) - counts, counts)
        self.starts = self.offsets[self.clip_of] + within
        self.counts = counts

    @property
    def dims(self) -> int:
        return self.n_mels * self.frames_per_vector

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, items: np.ndarray) -> np.ndarray:
        """The vectors of `items`, frame-major. [shape=(len(items), n_mels * frames)]"""
        index = self.starts[np.asarray(items)][:, None] + np.arange(self.frames_per_vector)
        return self.frames[index].reshape(len(index), -1)


class Patches(_ClipFrames):
    """Square log-mel patches of many clips; clips shorter than `size` frames give none.

    With `step`, items are the fixed crops at frames 0, step, 2*step, ... (the last crop aligned to
    the clip's end); without, `crops_per_clip` random crops per clip are drawn by :meth:`resample`.
    """

    def __init__(self, log_mels: list[np.ndarray], size: int, step: int | None = None,
                 crops_per_clip: int = 8, seed: int = 0):
        super().__init__(log_mels)
        if self.n_mels != size:
            raise ConfigError(f"patch size {size} must equal features.n_mels ({self.n_mels}) for square patches")
        self.size, self.step, self.crops_per_clip = size, step, crops_per_clip
        self.usable = np.flatnonzero(self.lengths >= size)
        self.rng = np.random.default_rng(seed)
        if step is not None:
            clip_of, starts = [], []
            for clip in self.usable:
                last = self.lengths[clip] - size
                offsets = np.unique(np.r_[np.arange(0, last + 1, step), last])
                clip_of.append(np.full(len(offsets), clip))
                starts.append(self.offsets[clip] + offsets)
            self.clip_of = np.concatenate(clip_of) if clip_of else np.empty(0, np.int64)
            self.starts = np.concatenate(starts) if starts else np.empty(0, np.int64)
        else:
            self.resample()

    def resample(self) -> None:
        """Draw new random crops (call once per training epoch)."""
        self.clip_of = np.repeat(self.usable, self.crops_per_clip)
        room = self.lengths[self.clip_of] - self.size + 1
        self.starts = self.offsets[self.clip_of] + (self.rng.random(len(self.clip_of)) * room).astype(np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, items: np.ndarray) -> np.ndarray:
        """The patches of `items`, mel by time. [shape=(len(items), size, size)]"""
        index = self.starts[np.asarray(items)][:, None] + np.arange(self.size)
        return self.frames[index].transpose(0, 2, 1)


def item_errors(items: FrameVectors | Patches, reconstruct, batch_size: int) -> np.ndarray:
    """Mean squared reconstruction error of every item, in batches across clips. [shape=(len(items),)]

    `reconstruct` maps a batch of inputs to its reconstruction (same shape).
    """
    errors = np.empty(len(items), dtype=np.float64)
    for start in range(0, len(items), batch_size):
        index = np.arange(start, min(start + batch_size, len(items)))
        batch = items.batch(index)
        squared = np.square(reconstruct(batch) - batch)
        errors[index] = squared.reshape(len(index), -1).mean(axis=1, dtype=np.float64)
    return errors
