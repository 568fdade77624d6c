"""Training and scoring of the Keras solutions on TensorFlow (the original baseline's recipe).

The network is compiled with Adam and mean squared error and trained with ``model.fit``, as in
the DCASE 2020 baseline. Batches are built from FrameVectors or Patches as they are needed (a
PyDataset), never from a stacked copy of every vector. This is the only module of the project
that imports TensorFlow; the ``trainer`` section of config.yaml (Lightning placement) does not
apply here.

Saved models are ``.keras`` archives (weights reloaded into ``solution.build_model()``, so
custom layers need no registration); the settings fingerprint is stored inside the archive as
the extra member ``fingerprint.json``.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from helpers import inputs  # noqa: E402
from helpers.fileio import atomic_path  # noqa: E402
from helpers.inputs import FrameVectors, Patches  # noqa: E402
from helpers.liveplot import LossDisplay, history_frame  # noqa: E402

MODEL_SUFFIX = ".keras"
FINGERPRINT_MEMBER = "fingerprint.json"
Items = FrameVectors | Patches


class ItemBatches(keras.utils.PyDataset):
    """Batches of (input, target=input) built from items; [shape=(batch, *item_shape)] each.

    A training set (`training=True`) reshuffles its order at every epoch end when `shuffle`,
    and draws new random crops first when its items are Patches.
    """

    def __init__(self, items: Items, batch_size: int, shuffle: bool = False, training: bool = False,
                 seed: int = 0):
        super().__init__()
        self.items, self.batch_size = items, batch_size
        self.shuffle, self.training = shuffle, training
        self.rng = np.random.default_rng(seed)
        self.order = self._new_order()

    def _new_order(self) -> np.ndarray:
        n = len(self.items)
        return self.rng.permutation(n) if self.shuffle else np.arange(n)

    def __len__(self) -> int:
        return -(-len(self.items) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        batch = self.items.batch(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        return batch, batch

    def on_epoch_end(self) -> None:
        if not self.training:
            return
        if isinstance(self.items, Patches):
            self.items.resample()
        self.order = self._new_order()


class EpochHistory(keras.callbacks.Callback):
    """Collects the per-epoch losses, writes them as TensorBoard scalars and redraws the live figure."""

    def __init__(self, display: LossDisplay | None, log_dir: Path):
        super().__init__()
        self.rows: list[dict] = []
        self.display = display
        self.log_dir = log_dir
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        self.rows.append({"epoch": epoch + 1, **metrics})
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(str(self.log_dir))
        with self.writer.as_default():
            for name, value in metrics.items():
                tf.summary.scalar(name, value, step=epoch + 1)
        if self.display is not None:
            self.display.update(self.history())

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()

    def history(self) -> pd.DataFrame:
        return history_frame(self.rows)


def train(solution, train_items: Items, val_items: Items | None, log_dir: str | Path,
          log_name: str, display: LossDisplay | None = None) -> tuple[keras.Model, pd.DataFrame]:
    """Train a fresh network of `solution` on `train_items`; returns it and its loss history."""
    training = solution.config["training"]
    keras.utils.set_random_seed(training["seed"])
    tf.config.experimental.enable_op_determinism()  # same seed, same run: no order-dependent kernels
    model = solution.build_model()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=training["learning_rate"]), loss="mse")
    batches = ItemBatches(train_items, training["batch_size"], training["shuffle"], training=True,
                          seed=training["seed"])
    val_batches = (ItemBatches(val_items, training["batch_size"])
                   if val_items is not None and len(val_items) else None)
    history = EpochHistory(display, Path(log_dir) / log_name)
    model.fit(batches, validation_data=val_batches, epochs=training["epochs"], shuffle=False,
              callbacks=[history], verbose=0)
    return model, history.history()


def save(model: keras.Model, path: str | Path, fingerprint: str) -> None:
    """Write the model as a .keras archive with its settings fingerprint inside, whole or not at all."""
    with atomic_path(path) as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(FINGERPRINT_MEMBER, json.dumps({"fingerprint": fingerprint}))


def load(solution, path: str | Path) -> tuple[keras.Model, str]:
    """The saved network and the settings fingerprint it was trained with."""
    model = solution.build_model()
    model.load_weights(path)
    with zipfile.ZipFile(path) as archive:
        fingerprint = json.loads(archive.read(FINGERPRINT_MEMBER))["fingerprint"]
    return model, fingerprint


def reconstruct(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    """The network's reconstruction of a batch of inputs, in the inputs' units. [shape=batch.shape]

    An eager call in inference mode: as fast as ``predict_on_batch`` on big batches, without
    tracing a graph for every loaded model and every batch size.
    """
    return keras.ops.convert_to_numpy(model(np.ascontiguousarray(batch, dtype=np.float32), training=False))


def item_errors(model: keras.Model, items: Items, batch_size: int) -> np.ndarray:
    """Mean squared reconstruction error of every item, in batches across clips. [shape=(len(items),)]"""
    return inputs.item_errors(items, lambda batch: reconstruct(model, batch), batch_size)
