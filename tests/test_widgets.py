"""The clip browser's callbacks, headless: changing the selection updates the panels."""
import matplotlib

matplotlib.use("Agg")

import pytest

from helpers import paths, pipeline, solution
from helpers.widgets import ClipBrowser, browse


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


def titles(figure):
    return " | ".join(ax.get_title() for ax in figure.axes)


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
    assert set(browser.candidates()["machine_id"]) == {browser.id_box.value}


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
