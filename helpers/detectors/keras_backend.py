"""Training and scoring of the Keras solutions on TensorFlow (the original baseline's recipe).

The network is compiled with Adam and its objective's Keras loss (helpers.detectors.objectives: mean
squared error for a reconstruction; other objectives are the torch framework's) and trained with
``model.fit``, as in the DCASE 2020 baseline. Batches are built from
the solution's Items as they are needed (a PyDataset), never from a stacked copy of every
vector. This is the only module of the project that imports TensorFlow; the ``trainer`` section
of config.yaml (Lightning placement) does not apply here.

A trained network is kept as its weight arrays (:func:`weights`, saved by helpers.detectors.detector) and
restored into ``solution.build_model()``, so custom layers need no registration.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import frontend, threads
from helpers.errors import ConfigError
from helpers.detectors.inputs import Items
from helpers.figures.liveplot import LossDisplay, history_frame


@contextlib.contextmanager
def _native_logs_hidden():
    """While the block runs, what C++ code writes to this process's standard error goes nowhere,
    unless the frameworks' logs are asked for (helpers.frontend.native_logs_shown). TensorFlow writes
    some lines there before its own log level applies (absl's, the CUDA stubs')."""
    if frontend.native_logs_shown():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if frontend.native_logs_shown() else "3")
with _native_logs_hidden():
    import keras
    import tensorflow as tf

    tf.config.list_physical_devices()  # CUDA's set-up, which logs an error line on a machine without a GPU

_share = threads.share()
if _share is not None:  # notebooks run side by side share the cores; TensorFlow takes its share once
    tf.config.threading.set_intra_op_parallelism_threads(_share)
    tf.config.threading.set_inter_op_parallelism_threads(_share)

MODEL_SUFFIX = ".keras"
STEPS_PER_EXECUTION = 8


class ItemBatches(keras.utils.PyDataset):
    """Batches of (inputs, reconstruction targets) built from items; [shape=(batch, *shape)] each.

    A training set (`training=True`) reshuffles its order at every epoch end when `shuffle`,
    and first draws new random crops where its kind draws them (Items.resample).
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
        chosen = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        batch = self.items.batch(chosen)
        return batch, batch if self.items.target_is_input else self.items.targets(chosen)

    def on_epoch_end(self) -> None:
        if not self.training:
            return
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


def trainings_at_once(solution, wanted: int, cores: int | None = None) -> int:
    """1: Keras trains one machine type at a time (TensorFlow's own thread pools take the cores)."""
    return 1


def train(solution, train_items: Items, val_items: Items | None, log_dir: str | Path,
          log_name: str, display: LossDisplay | None = None, classes: int | None = None) -> tuple[keras.Model, pd.DataFrame]:
    """Train a fresh network of `solution` on `train_items`; returns it and its loss history."""
    loss = solution.objective.keras_loss
    if loss is None:
        raise ConfigError(f"{solution.folder / 'config.yaml'}: the keras framework has no loss for training.objective "
                          f"{solution.objective.name!r}; it needs framework: torch")
    training = solution.config["training"]
    keras.utils.set_random_seed(training["seed"])
    tf.config.experimental.enable_op_determinism()  # same seed, same run: no order-dependent kernels
    model = solution.build_model()
    # 8 steps per call of the compiled train function: the same updates in the same order (the
    # same losses to the last bit), a fifth less time per epoch than one step per call
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=training["learning_rate"]), loss=loss,
                  steps_per_execution=STEPS_PER_EXECUTION)
    batches = ItemBatches(train_items, training["batch_size"], training["shuffle"], training=True,
                          seed=training["seed"])
    val_batches = (ItemBatches(val_items, training["batch_size"])
                   if val_items is not None and len(val_items) else None)
    history = EpochHistory(display, Path(log_dir) / log_name)
    model.fit(batches, validation_data=val_batches, epochs=training["epochs"], shuffle=False,
              callbacks=[history], verbose=0)
    return model, history.history()


def weights(model: keras.Model) -> dict[str, np.ndarray]:
    """The network's weights (trainable and not, e.g. batch-norm statistics) as plain arrays, in order."""
    return {f"{position:04d}": value for position, value in enumerate(model.get_weights())}


def restore(solution, arrays: dict[str, np.ndarray], classes: int | None) -> keras.Model:
    """A network of `solution` holding the arrays of :func:`weights`."""
    model = solution.build_model(classes)
    model.set_weights([arrays[name] for name in sorted(arrays)])
    return model


def predict(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    """The network's prediction for a batch of inputs, in the targets' units. [shape=(batch, *target)]

    An eager call in inference mode: as fast as ``predict_on_batch`` on big batches, without
    tracing a graph for every loaded model and every batch size.
    """
    return keras.ops.convert_to_numpy(model(np.ascontiguousarray(batch, dtype=np.float32), training=False))


def embed(model: keras.Model, batch: np.ndarray) -> np.ndarray:
    """Keras solutions expose no embedding: ConfigError naming the setting to change."""
    raise ConfigError("scoring.vectors 'embedding' needs a network with embed(x) (a torch solution); "
                      "the keras solutions give error vectors: use scoring.vectors 'error'")
