"""Every plotting function draws on the ax it is given, returns it, and renders to PNG."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from helpers.figures import plots
from helpers.data.editions import RULES_2020, RULES_2021, RULES_2022
from helpers.data.features import FeatureSettings
from helpers.experiments.inspection import ClipView


@pytest.fixture(autouse=True)
def _style():
    plots.use_style()
    yield
    plt.close("all")


def scores():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"section": np.repeat(["00", "02"], 20), "label": np.tile([0] * 10 + [1] * 10, 2),
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


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def bar_heights(ax) -> list[float]:
    return [round(p.get_height(), 6) for p in ax.patches if hasattr(p, "get_height")]


def test_roc_curves_draw_one_curve_per_id_with_its_auc(tmp_path):
    from sklearn.metrics import roc_auc_score

    fig, ax = plt.subplots()
    table = scores()
    assert plots.roc_curves(table, RULES_2020, ax=ax, title="ROC") is ax
    texts = legend_texts(ax)
    for section, group in table.groupby("section"):
        assert f"id {section} (AUC {roc_auc_score(group['label'], group['score']):.3f})" in texts
    curves = {line.get_label(): line for line in ax.get_lines() if line.get_label().startswith("id ")}
    assert len(curves) == 2
    for label, line in curves.items():  # from (0, 0) to (1, 1), never down, enclosing the AUC it names
        x, y = line.get_xdata(), line.get_ydata()
        assert (x[0], y[0], x[-1], y[-1]) == (0, 0, 1, 1) and np.all(np.diff(y) >= 0)
        assert f"{np.trapezoid(y, x):.3f}" in label
    assert "pAUC range (FPR ≤ 0.1)" in texts and ax.get_title() == "ROC"
    render(ax, tmp_path, "roc")


@pytest.mark.parametrize("rules, anomalies_per_curve", [(RULES_2021, 5), (RULES_2022, 10)])
def test_roc_curves_of_later_rules_are_per_section_and_domain_target_dashed(rules, anomalies_per_curve):
    fig, ax = plt.subplots()
    table = scores().assign(domain=np.tile(["source"] * 5 + ["target"] * 5, 4))
    plots.roc_curves(table, rules, ax=ax)
    curves = {line.get_label().split(" (")[0]: line for line in ax.get_lines() if line.get_label().startswith("section")}
    assert list(curves) == [f"section {s} {d}" for s in ("00", "02") for d in ("source", "target")]
    assert [line.get_linestyle() for line in curves.values()] == ["-", "--"] * 2
    # 2021: a domain's own clips; 2022: its normals against every anomaly of the section (the TPR's steps)
    assert min(np.diff(np.unique(curves["section 00 source"].get_ydata()))) == pytest.approx(1 / anomalies_per_curve)


def test_roc_curves_leave_out_ids_with_one_label():
    fig, ax = plt.subplots()
    table = scores()
    table.loc[table["section"] == "02", "label"] = 0
    plots.roc_curves(table, RULES_2020, ax=ax)
    assert [t for t in legend_texts(ax) if t.startswith("id ")] == [legend_texts(ax)[0]]
    assert legend_texts(ax)[0].startswith("id 00 ")


def test_unscored_clips_leave_their_curve_out_and_are_counted_not_drawn():
    """A clip of a class the network does not know has no score (NaN): its group's AUC is undefined."""
    fig, (roc, hist) = plt.subplots(1, 2)
    table = scores()
    table.loc[table.index[table["section"] == "02"][0], "score"] = np.nan
    plots.roc_curves(table, RULES_2020, ax=roc)
    assert [t for t in legend_texts(roc) if t.startswith("id ")] == [legend_texts(roc)[0]]
    plots.score_histograms(table, ax=hist, bins=10)
    assert "no score (1)" in legend_texts(hist) and sum(bar_heights(hist)) == len(table) - 1


def test_score_histograms_count_each_label(tmp_path):
    fig, ax = plt.subplots()
    table = scores()
    table.loc[len(table)] = {"section": "00", "label": pd.NA, "score": 0.0}
    table["label"] = table["label"].astype("Int64")
    assert plots.score_histograms(table, ax=ax, bins=10) is ax
    assert legend_texts(ax) == ["normal (20)", "anomaly (20)", "unlabelled (1)"]
    assert sum(bar_heights(ax)) == 41 and len(ax.patches) == 30
    render(ax, tmp_path, "histograms")


def test_score_position_marks_the_clip_and_the_threshold(tmp_path):
    fig, ax = plt.subplots()
    assert plots.score_position(scores(), 1.5, ax=ax, threshold=1.0) is ax
    marks = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()}
    assert marks == {"this clip (1.50)": 1.5, "threshold (1.00)": 1.0}
    assert "this clip (1.50)" in legend_texts(ax) and "threshold (1.00)" in legend_texts(ax)
    render(ax, tmp_path, "score_position")


def test_mean_spectra_draw_each_label_over_mel_frequencies(tmp_path):
    fig, ax = plt.subplots()
    spectra = {"normal": np.linspace(-10, -40, 128), "anomaly": np.linspace(-12, -38, 128)}
    assert plots.mean_spectra(spectra, ax=ax) is ax
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"normal", "anomaly"} and legend_texts(ax) == ["normal", "anomaly"]
    for label, spectrum in spectra.items():
        assert np.array_equal(lines[label].get_ydata(), spectrum)
        assert np.array_equal(lines[label].get_xdata(), plots.mel_frequencies())
    assert ax.get_xscale() == "log" and 0 < plots.mel_frequencies()[0] < plots.mel_frequencies()[-1] < 8000
    render(ax, tmp_path, "mean_spectra")


def test_loss_curves_draw_both_losses_log_scaled_over_a_decade(tmp_path):
    fig, ax = plt.subplots()
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [100.0, 20.0, 9.0], "val_loss": [90.0, 25.0, 10.0]})
    assert plots.loss_curves(history, ax=ax) is ax
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["training"].get_ydata()) == [100.0, 20.0, 9.0]
    assert list(lines["validation"].get_ydata()) == [90.0, 25.0, 10.0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch"
    render(ax, tmp_path, "loss_curves")
    fig, ax = plt.subplots()
    plots.loss_curves(pd.DataFrame({"epoch": [1, 2], "loss": [2.0, 1.5]}), ax=ax)
    assert [line.get_label() for line in ax.get_lines()] == ["training"] and ax.get_yscale() == "linear"


def test_scores_over_time_draw_the_scores_and_their_mean(tmp_path):
    fig, ax = plt.subplots()
    times, errors = np.linspace(0, 10, 309), np.random.default_rng(0).random(309)
    assert plots.item_scores_over_time(times, errors, ax=ax, label="x", ylabel="−log p(own ID)") is ax
    assert ax.get_ylabel() == "−log p(own ID)"
    curve, mean = ax.get_lines()
    assert np.array_equal(curve.get_xdata(), times) and np.array_equal(curve.get_ydata(), errors)
    assert mean.get_ydata()[0] == pytest.approx(errors.mean()) and legend_texts(ax) == ["x"]
    render(ax, tmp_path, "errors_over_time")


def test_clip_counts_bars_stack_the_counts(tmp_path):
    fig, ax = plt.subplots()
    counts = pd.DataFrame({"machine_type": ["fan", "fan", "fan", "valve"], "split": ["train", "test", "test", "train"],
                           "section": ["00"] * 4, "label": ["normal", "normal", "anomaly", "normal"],
                           "clips": [10, 5, 4, 7]})
    assert plots.clip_counts_bars(counts, ax=ax) is ax
    assert sorted(h for h in bar_heights(ax) if h) == [4, 5, 7, 10]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fan", "valve"]
    render(ax, tmp_path, "counts")


def test_stat_strip_places_real_and_synthetic_dots(tmp_path):
    fig, ax = plt.subplots()
    stats = pd.DataFrame({"machine_type": ["fan", "fan", "valve"], "source": ["real", "synthetic", "synthetic"],
                          "rms_dbfs": [-38.0, -39.0, -30.0]})
    assert plots.stat_strip(stats, "rms_dbfs", ax=ax) is ax
    real, synthetic = ax.collections
    assert real.get_offsets().tolist() == [[-0.15, -38.0]]
    assert np.allclose(synthetic.get_offsets(), [[0.15, -39.0], [1.15, -30.0]])
    assert legend_texts(ax) == ["real", "synthetic"] and ax.get_ylabel() == "rms_dbfs"
    render(ax, tmp_path, "stat_strip")


def test_metric_bars_draw_one_bar_per_type_and_solution(tmp_path):
    fig, ax = plt.subplots()
    table = pd.DataFrame({"machine_type": ["fan", "fan", "valve", "valve"], "solution": ["a", "b", "a", "b"],
                          "AUC": [0.7, 0.8, 0.6, 0.9]})
    assert plots.metric_bars(table, ax=ax) is ax
    assert bar_heights(ax) == [0.7, 0.6, 0.8, 0.9]  # pandas draws solution by solution
    assert legend_texts(ax) == ["a", "b"] and ax.get_ylim() == (0, 1)
    render(ax, tmp_path, "metric_bars")


def test_clip_panels_share_the_input_scale(tmp_path):
    rng = np.random.default_rng(0)
    logmel = rng.normal(-40, 5, (64, 100))
    view = ClipView(logmel, np.linspace(0, 3, 96), rng.random(96), 1.0, "squared error [dB²]",
                    reconstruction=logmel + 1, error=np.ones_like(logmel))
    fig, axes = plt.subplots(1, 3)
    plots.clip_panels(view, FeatureSettings(n_mels=64), axes, title="fan id 00 · clip.wav · normal")
    limits = [ax.collections[0].get_clim() for ax in axes]
    assert limits[0] == limits[1] and limits[2][0] == 0
    assert "score 1.00" in axes[2].get_title()
    render(axes[0], tmp_path, "panels")


def test_clip_panels_of_a_machine_id_network_show_each_ids_probability(tmp_path):
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(3), size=20).T  # [classes, items]
    view = ClipView(rng.normal(-40, 5, (64, 100)), np.linspace(0, 3, 20), rng.random(20), 0.7, "−log p(own ID)",
                    id_probabilities=probabilities, classes=["00", "02", "04"], own_class="02", section="02")
    fig, axes = plt.subplots(1, 3)
    plots.clip_panels(view, FeatureSettings(n_mels=64), axes, title="fan id 02")
    lines = {line.get_label(): line for line in axes[1].get_lines()}
    assert set(lines) == {"id 00", "id 02 (its own)", "id 04"}
    assert np.array_equal(lines["id 02 (its own)"].get_ydata(), probabilities[1])
    assert lines["id 02 (its own)"].get_linewidth() > lines["id 00"].get_linewidth()
    assert lines["id 02 (its own)"].get_color() == plots.id_colours(view.classes)["02"]
    assert [bar.get_alpha() for bar in axes[2].patches] == [0.35, 1.0, 0.35]
    assert bar_heights(axes[2]) == [round(float(p), 6) for p in probabilities.mean(axis=1)]
    assert "score 0.70" in axes[2].get_title()
    render(axes[1], tmp_path, "id_panels")


def test_panels_and_maps_of_a_later_edition_name_sections_not_ids():
    rng = np.random.default_rng(1)
    view = ClipView(rng.normal(-40, 5, (64, 100)), np.linspace(0, 3, 20), rng.random(20), 0.7, "−log p(own section)",
                    id_probabilities=rng.dirichlet(np.ones(2), size=20).T, classes=["00", "01"], own_class="01", section="01",
                    group_word="section")
    fig, axes = plt.subplots(1, 3)
    plots.clip_panels(view, FeatureSettings(n_mels=64), axes, title="fan section 01")
    assert {line.get_label() for line in axes[1].get_lines()} == {"section 00", "section 01 (its own)"}
    assert axes[1].get_title() == "section over time" and axes[1].get_ylabel() == "p(section)"
    assert [tick.get_text() for tick in axes[2].get_xticklabels()] == ["section 00", "section 01"]
    fig, ax = plt.subplots()
    plots.embedding_map(rng.normal(size=(4, 2)), ["train"] * 4, ["00", "01", "00", "01"], [0.5, 0.3], ax=ax, word="section")
    id_legend = next(child for child in ax.get_children() if isinstance(child, matplotlib.legend.Legend))
    assert id_legend.get_title().get_text() == "section"
    assert [t.get_text() for t in id_legend.get_texts()] == ["section 00", "section 01"]


def test_nothing_is_saved_unless_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig, ax = plt.subplots()
    plots.roc_curves(scores(), RULES_2020, ax=ax)
    plots.loss_curves(pd.DataFrame({"epoch": [1], "loss": [1.0]}), ax=ax)
    assert list(tmp_path.iterdir()) == []


def test_embedding_map_colours_by_id_and_marks_each_group(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 2))
    groups = ["train"] * 16 + ["normal test"] * 6 + ["anomalous test"] * 5 + ["unlabelled test"] * 3
    ids = np.tile(["00", "02"], 15)
    fig, ax = plt.subplots()
    assert plots.embedding_map(points, groups, ids, [0.61, 0.2], ax=ax, title="fan") is ax
    drawn = ax.collections
    assert len(drawn) == 4
    for collection, (start, stop) in zip(drawn, [(0, 16), (16, 22), (22, 27), (27, 30)]):
        assert np.array_equal(collection.get_offsets(), points[start:stop])
    colours = plots.id_colours(ids)
    train_colours = drawn[0].get_facecolors()
    assert np.allclose(train_colours[0][:3], colours["00"][:3]) and np.allclose(train_colours[1][:3], colours["02"][:3])
    assert len(drawn[1].get_facecolors()) == 0 and np.allclose(drawn[1].get_edgecolors()[0][:3], colours["00"][:3])
    id_legend, group_legend = [child for child in ax.get_children() if isinstance(child, matplotlib.legend.Legend)]
    assert [t.get_text() for t in id_legend.get_texts()] == ["id 00", "id 02"]
    assert legend_texts(ax) == ["train (16)", "normal test (6)", "anomalous test (5)", "unlabelled test (3)"]
    assert ax.get_xlabel() == "PC 1 (61.0 % of the variance)" and ax.get_ylabel() == "PC 2 (20.0 % of the variance)"
    render(ax, tmp_path, "embedding_map")


def test_score_axes_are_labelled_by_what_the_score_is():
    fig, (hist, position, timeline) = plt.subplots(1, 3)
    plots.score_histograms(scores(), ax=hist, xlabel="−log p(own ID)")
    plots.score_position(scores(), 1.0, ax=position, xlabel="Mahalanobis distance")
    plots.item_scores_over_time(np.arange(3.0), np.ones(3), ax=timeline)
    assert (hist.get_xlabel(), position.get_xlabel()) == ("−log p(own ID)", "Mahalanobis distance")
    assert timeline.get_ylabel() == "anomaly score" and len(hist.xaxis.get_major_locator()()) <= 7


def test_bars_of_undefined_figures_say_so_instead_of_failing(tmp_path):
    """A group whose figures are all undefined (a section without anomalous test clips) is drawn, marked."""
    rows = pd.DataFrame({"solution": ["a", "b", "a", "b"], "section": ["00"] * 4, "domain": [""] * 4,
                         "metric": ["auc", "auc", "pauc", "pauc"], "value": [np.nan, np.nan, 0.7, np.nan]})
    ax = plots.ranked_bars(rows)
    assert [t.get_text() for t in ax.texts] == [plots.UNDEFINED] * 3
    assert [p.get_height() for p in ax.patches] == [0.7]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    official = pd.DataFrame({"machine_type": ["fan", "valve"], "solution": ["a", "a"], "official score": [np.nan] * 2})
    ax = plots.metric_bars(official, "official score")
    assert len(ax.texts) == 2 and ax.get_xlim() == (-0.5, 1.5)
    render(ax, tmp_path, "undefined_bars")
