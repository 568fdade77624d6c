"""Every plotting function draws on the ax it is given, returns it, and renders to PNG."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from helpers import plots
from helpers.features import FeatureSettings
from helpers.inspection import ClipView


@pytest.fixture(autouse=True)
def _style():
    plots.use_style()
    yield
    plt.close("all")


def scores():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"machine_id": np.repeat(["00", "02"], 20), "label": np.tile([0] * 10 + [1] * 10, 2),
                         "score": rng.normal(size=40) + np.tile([0] * 10 + [1] * 10, 2)})


def render(ax, tmp_path, name):
    path = plots.save(ax, tmp_path / f"{name}.png")
    assert path.stat().st_size > 5_000
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_log_mel_image_has_seconds_hz_and_db(tmp_path):
    fig, ax = plt.subplots()
    returned = plots.log_mel_image(np.random.default_rng(0).normal(-40, 5, (128, 313)), ax=ax, title="fan id 00")
    assert returned is ax and ax.get_xlabel() == "time [s]" and ax.get_ylabel() == "frequency [Hz]"
    assert fig.axes[-1].get_ylabel() == "dB"
    assert ax.get_xlim()[1] == pytest.approx(313 * 512 / 16_000, rel=0.02)
    render(ax, tmp_path, "logmel")


@pytest.mark.parametrize("draw", [
    lambda ax: plots.roc_curves(scores(), ax=ax, title="ROC"),
    lambda ax: plots.score_histograms(scores(), ax=ax),
    lambda ax: plots.score_position(scores(), 1.5, ax=ax, threshold=1.0),
    lambda ax: plots.mean_spectra({"normal": np.linspace(-10, -40, 128), "anomaly": np.linspace(-12, -38, 128)}, ax=ax),
    lambda ax: plots.loss_curves(pd.DataFrame({"epoch": [1, 2, 3], "loss": [100.0, 20.0, 9.0], "val_loss": [90.0, 25.0, 10.0]}), ax=ax),
    lambda ax: plots.item_errors_over_time(np.linspace(0, 10, 309), np.random.default_rng(0).random(309), ax=ax, label="x"),
    lambda ax: plots.clip_counts_bars(pd.DataFrame({"machine_type": ["fan", "fan", "fan"], "split": ["train", "test", "test"],
                                                    "machine_id": ["00"] * 3, "label": ["normal", "normal", "anomaly"],
                                                    "clips": [10, 5, 5]}), ax=ax),
    lambda ax: plots.stat_strip(pd.DataFrame({"machine_type": ["fan", "fan"], "source": ["real", "synthetic"],
                                              "rms_dbfs": [-38.0, -39.0]}), "rms_dbfs", ax=ax),
    lambda ax: plots.metric_bars(pd.DataFrame({"machine_type": ["fan", "fan"], "solution": ["a", "b"], "AUC": [0.7, 0.8]}), ax=ax),
], ids=["roc", "histograms", "score_position", "mean_spectra", "loss_curves", "errors_over_time", "counts", "stat_strip",
        "metric_bars"])
def test_plot_functions_draw_on_the_given_ax(draw, tmp_path, request):
    fig, ax = plt.subplots()
    assert draw(ax) is ax
    render(ax, tmp_path, request.node.callspec.id)


def test_clip_panels_share_the_input_scale(tmp_path):
    rng = np.random.default_rng(0)
    logmel = rng.normal(-40, 5, (64, 100))
    view = ClipView(logmel, logmel + 1, np.ones_like(logmel), np.linspace(0, 3, 96), rng.random(96), 1.0)
    fig, axes = plt.subplots(1, 3)
    plots.clip_panels(view, FeatureSettings(n_mels=64), axes, title="fan id 00 · clip.wav · normal")
    limits = [ax.collections[0].get_clim() for ax in axes]
    assert limits[0] == limits[1] and limits[2][0] == 0
    assert "score 1.00" in axes[2].get_title()
    render(axes[0], tmp_path, "panels")


def test_nothing_is_saved_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig, ax = plt.subplots()
    plots.roc_curves(scores(), ax=ax)
    plots.loss_curves(pd.DataFrame({"epoch": [1], "loss": [1.0]}), ax=ax)
    assert list(tmp_path.iterdir()) == []
