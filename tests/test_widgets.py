"""The clip browser's callbacks, headless: changing the selection updates the panels."""
import matplotlib

matplotlib.use("Agg")

import pytest

from helpers import paths
from helpers.detectors import scoring, solution
from helpers.experiments import pipeline
from helpers.figures import plots
from helpers.experiments.widgets import ClipBrowser, browse
from tests import toy_classifier


@pytest.fixture(scope="module")
def tested_runs(tiny_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    loaded = []
    for name in ("pytorch", "vae"):
        sol = solution.load(paths.NOTEBOOKS / name, {"training.epochs": 1})
        pipeline.train_all(sol, tiny_data, root, "fan,valve", live=False, progress=False)
        pipeline.test_all(sol, tiny_data, root, "fan,valve", progress=False)
        loaded.append(sol)
    return loaded, root


@pytest.fixture(scope="module")
def classifier(tested_runs, tiny_data, tmp_path_factory):
    """The toy machine-ID classifier (tests/toy_classifier.py) trained and tested beside them."""
    _, root = tested_runs
    sol = toy_classifier.write(tmp_path_factory.mktemp("solutions") / "toy")
    pipeline.train_all(sol, tiny_data, root, "fan,valve", live=False, progress=False)
    pipeline.test_all(sol, tiny_data, root, "fan,valve", progress=False)
    return sol


def titles(figure):
    return " | ".join(ax.get_title() for ax in figure.axes)


def by_title(figure) -> dict:
    return {ax.get_title(): ax for ax in figure.axes if ax.get_title()}


def test_selection_drives_the_panels(tested_runs):
    loaded, root = tested_runs
    browser = ClipBrowser(loaded, result_root=root)
    assert browser.type_box.options == ("fan", "valve")
    first = browser.current_clip
    assert first.machine_type == "fan" and first.file_name in titles(browser.figure)

    browser.type_box.value = "valve"
    assert browser.current_clip.machine_type == "valve"
    assert "valve" in titles(browser.figure)

    browser.order_box.value = "most anomalous normal clips"
    clip = browser.current_clip
    valve = browser.scores["pytorch"].query("machine_type == 'valve' and label == 0")
    assert clip.label == 0 and clip.score == valve["score"].max()
    assert clip.file_name in titles(browser.figure)

    browser.order_box.value = "least anomalous anomalies"
    assert browser.current_clip.label == 1

    browser.id_box.value = browser.id_box.options[1]
    assert set(browser.candidates()["section"]) == {browser.id_box.value}


def test_second_solution_adds_its_panels(tested_runs):
    loaded, root = tested_runs
    browser = ClipBrowser(loaded, result_root=root, threshold=5.0)
    alone = len(browser.figure.axes)
    browser.compare_box.value = "vae"
    assert len(browser.figure.axes) > alone
    assert "vae ·" in titles(browser.figure) and "pytorch ·" in titles(browser.figure)
    assert any("threshold" in text.get_text() for ax in browser.figure.axes
               for text in (ax.get_legend().get_texts() if ax.get_legend() else []))


def test_show_returns_one_widget(tested_runs):
    loaded, root = tested_runs
    box = ClipBrowser(loaded[0], result_root=root).show()
    assert len(box.children) == 2


def test_other_runs_on_the_same_clips_are_offered_for_comparison(tested_runs):
    loaded, root = tested_runs
    browser = ClipBrowser(loaded[0], result_root=root)
    assert browser.solution_box.options == ("pytorch",)
    assert browser.compare_box.options == ("(none)", "pytorch", "vae")
    alone = len(browser.figure.axes)
    browser.compare_box.value = "vae"
    assert len(browser.figure.axes) == 2 * alone and "vae ·" in titles(browser.figure)


def test_browse_gives_the_widget_where_a_person_can_use_it(tested_runs):
    """Outside a kernel (here) the widget; in a headless kernel a note (tests/test_runner.py)."""
    loaded, root = tested_runs
    assert len(browse(loaded[0], root).children) == 2


def test_a_machine_id_solution_shows_each_ids_probability_and_its_own_score(tested_runs, classifier, tmp_path):
    loaded, root = tested_runs
    browser = ClipBrowser([classifier, loaded[0]], result_root=root)
    clip = browser.current_clip
    axes = by_title(browser.figure)
    lines = [line.get_label() for line in axes["machine ID over time"].get_lines()]
    assert lines == [f"id {i}" + (" (its own)" if i == clip.section else "") for i in ("00", "02", "04", "06")]
    nll = scoring.score_label(classifier.objective, "nll")
    assert axes["toy: score over time"].get_ylabel() == nll
    assert axes[f"toy: score among id {clip.section}"].get_xlabel() == nll
    assert any(t.startswith("score ") and nll in t for t in axes)
    plots.save(browser.figure, tmp_path / "classifier.png")

    browser.compare_box.value = "pytorch"
    axes = by_title(browser.figure)
    assert "toy ·" in titles(browser.figure) and "pytorch ·" in titles(browser.figure)
    assert "machine ID over time" in axes and "reconstruction" in axes
    assert axes["pytorch: score over time"].get_ylabel() == scoring.score_label(loaded[0].objective, "mse")
    assert axes[f"pytorch: score among id {clip.section}"].get_xlabel() == scoring.score_label(loaded[0].objective, "mse")
    plots.save(browser.figure, tmp_path / "classifier_and_autoencoder.png")
