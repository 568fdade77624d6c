"""The Keras backend: training, saving and loading, reconstruction errors, and TensorFlow kept out
of the torch path."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import frontend
from helpers.detectors import solution as solution_module
from helpers.detectors import scoring
from helpers.detectors.objectives import OBJECTIVES
from helpers.detectors.inputs import FrameVectors, Patches

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL = ROOT / "notebooks" / "original"
keras_backend = keras = None  # imported when this module's tests run (below)


@pytest.fixture(scope="module", autouse=True)
def _tensorflow():
    """TensorFlow (6 s) is imported when this module's tests start, not when the suite is collected:
    every test worker collects every module, one runs these."""
    global keras_backend, keras
    from helpers.detectors import keras_backend
    import keras  # after keras_backend, which quiets TensorFlow's log


def random_log_mels(n_clips: int, n_mels: int = 128, n_frames: int = 40, seed: int = 0) -> list[np.ndarray]:
    """Log-mel-like arrays around -40 dB with a per-mel level. [shape=(n_mels, n_frames)] each"""
    rng = np.random.default_rng(seed)
    levels = rng.uniform(-60, -20, size=(n_mels, 1))
    return [(levels + 3 * rng.standard_normal((n_mels, n_frames))).astype(np.float32) for _ in range(n_clips)]


@pytest.fixture(scope="module")
def original():
    return solution_module.load(ORIGINAL, overrides={"training.epochs": 2, "training.batch_size": 32})


@pytest.fixture(scope="module")
def trained(original, tmp_path_factory):
    train_items = FrameVectors(random_log_mels(4), original.features.frames)
    val_items = FrameVectors(random_log_mels(1, seed=1), original.features.frames)
    model, history = keras_backend.train(original, train_items, val_items,
                                         tmp_path_factory.mktemp("logs"), "fan", None)
    return model, history, train_items


def test_original_model_is_the_baseline(original):
    model = original.build_model()
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [128] * 4 + [8] + [128] * 4 + [640]
    assert model.input_shape == (None, 640) and model.output_shape == (None, 640)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 9 and all(n.momentum == 0.99 and n.epsilon == 1e-3 for n in norms)
    assert dense[-1].activation.__name__ == "linear"


def test_training_lowers_the_loss_and_returns_a_history(trained):
    _, history, _ = trained
    assert list(history.columns) == ["epoch", "loss", "val_loss"]
    assert history["epoch"].tolist() == [1, 2]
    assert history["loss"].iloc[1] < history["loss"].iloc[0]
    assert np.isfinite(history["val_loss"]).all()


def test_training_without_validation_updates_the_display(original, tmp_path):
    class Recorder:
        def __init__(self):
            self.lengths = []

        def update(self, history):
            self.lengths.append(len(history))

    display = Recorder()
    items = FrameVectors(random_log_mels(2), original.features.frames)
    _, history = keras_backend.train(original, items, None, tmp_path, "run", display)
    assert list(history.columns) == ["epoch", "loss"]
    assert display.lengths == [1, 2]
    assert any((tmp_path / "run").iterdir())


def test_weights_restore_into_a_fresh_network_that_predicts_the_same(trained, original):
    model, _, items = trained
    arrays = keras_backend.weights(model)
    assert all(isinstance(a, np.ndarray) for a in arrays.values()) and len(arrays) == len(model.get_weights())
    loaded = keras_backend.restore(original, arrays, None)
    batch = items.batch(np.arange(50))
    np.testing.assert_array_equal(keras_backend.predict(loaded, batch), keras_backend.predict(model, batch))


def test_item_errors_match_a_direct_computation(trained):
    model, _, items = trained
    errors = scoring.item_outputs(keras_backend, model, items, OBJECTIVES["reconstruction"], batch_size=50).scores
    everything = items.batch(np.arange(len(items)))
    direct = np.mean((model.predict(everything, verbose=0) - everything).astype(np.float64) ** 2, axis=1)
    assert errors.shape == (len(items),) and errors.dtype == np.float64
    np.testing.assert_allclose(errors, direct, rtol=1e-5)


def test_item_errors_on_patches():
    items = Patches(random_log_mels(3, n_mels=16, n_frames=50), size=16, step=8)
    inputs = keras.Input(shape=(16, 16))
    x = keras.layers.Reshape((16, 16, 1))(inputs)
    x = keras.layers.Conv2D(1, 3, padding="same")(x)
    model = keras.Model(inputs, keras.layers.Reshape((16, 16))(x))
    errors = scoring.item_outputs(keras_backend, model, items, OBJECTIVES["reconstruction"], batch_size=7).scores
    everything = items.batch(np.arange(len(items)))
    direct = np.mean((model.predict(everything, verbose=0) - everything).reshape(len(items), -1) ** 2, axis=1)
    assert errors.shape == (len(items),)
    np.testing.assert_allclose(errors, direct, rtol=1e-5)


def test_patches_are_redrawn_every_training_epoch():
    items = Patches(random_log_mels(2, n_mels=16, n_frames=50), size=16, crops_per_clip=4, seed=0)
    batches = keras_backend.ItemBatches(items, batch_size=3, shuffle=True, training=True)
    before = items.starts.copy()
    batches.on_epoch_end()
    assert len(batches) == 3 and not np.array_equal(items.starts, before)


def test_the_torch_path_does_not_import_tensorflow():
    code = ("import sys, helpers.experiments.pipeline, helpers.detectors.torch_backend; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _import_and_compute(extra_env: dict) -> subprocess.CompletedProcess:
    code = (f"from helpers.detectors import solution\nsolution.load({str(ORIGINAL)!r})  # its model.py imports keras\n"
            "import os, tensorflow as tf\n"
            "print(float(tf.reduce_sum(tf.ones(3))), os.environ['TF_CPP_MIN_LOG_LEVEL'])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", frontend.NATIVE_LOGS_VARIABLE)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**env, **extra_env}, check=True)


def test_tensorflows_own_log_lines_are_shown_only_when_asked():
    """On a machine without a GPU, TensorFlow logs the set-up of CUDA, one line an error (E0000 ...
    failed call to cuInit), which reads like a failure of the run: by default nothing of it."""
    quiet = _import_and_compute({})
    assert quiet.stdout.split() == ["3.0", "3"] and quiet.stderr == ""
    asked = _import_and_compute({frontend.NATIVE_LOGS_VARIABLE: "1"})
    assert asked.stdout.split() == ["3.0", "0"]


def test_framework_logs_option_reaches_the_kernels(monkeypatch):
    from helpers.execution import cli

    seen = []
    monkeypatch.delenv(frontend.NATIVE_LOGS_VARIABLE, raising=False)
    monkeypatch.setattr(cli, "_run", lambda args: seen.append(os.environ.get(frontend.NATIVE_LOGS_VARIABLE)))
    assert cli.main(["run", "--solution", "pytorch"]) == 0
    assert cli.main(["run", "--solution", "pytorch", "--framework-logs"]) == 0
    assert seen == [None, "1"]
