"""Every solution on the synthetic data of the later editions: names, folders, figures and files."""
import json

import pandas as pd
import pytest

from helpers import layout, metrics, paths, pipeline, recording, results, runner, solution, synth
from helpers.solution import solution_folders
from tests.test_notebooks import CELL_TIMEOUT, images


@pytest.fixture(scope="module")
def edition_data(tmp_path_factory):
    """Tiny synthetic sets of 2021 (source_test/target_test folders, three sections), 2022 (one test
    folder, three sections) and 2023 (one section)."""
    root = tmp_path_factory.mktemp("editions")
    for year, types in ((2021, ["fan"]), (2022, ["bearing"]), (2023, ["ToyCar"])):
        synth.generate(root / str(year), size="tiny", seed=0, types=types, workers=1, progress=False, year=year)
    return root


@pytest.mark.parametrize("folder", solution_folders(), ids=lambda f: f.name)
def test_every_solution_trains_and_tests_on_the_later_editions_data(folder, edition_data, tmp_path):
    for year in (2021, 2022, 2023):
        data = edition_data / str(year)
        assert layout.detect(data).year == year
        sol = solution.load(folder, {"training.epochs": 1})
        pipeline.train_all(sol, data, tmp_path / str(year), live=False, progress=False)
        scores, tables = pipeline.test_all(sol, data, tmp_path / str(year), progress=False)
        style = layout.edition(year).style
        (machine_type, table), = tables.items()
        clips = layout.list_clips(data, machine_type, "test")
        assert len(scores) == len(clips) and set(scores["domain"]) == {"source", "target"}
        assert set(scores["decision"]) <= {0, 1}
        assert list(table.columns[:len(metrics.COLUMNS[style][0])]) == list(metrics.COLUMNS[style][0])
        assert set(table["section"]) == set(layout.edition(year).dev_sections)
        run = tmp_path / str(year) / folder.name
        payload = json.loads((run / "metrics.json").read_text())
        assert payload["year"] == year and 0 <= payload["official_score"] <= 1
        for section, domain, group in results.file_groups(scores, style):
            written = results.read_scores(run / results.score_file_name(style, machine_type, section, domain))
            assert written["file_name"].tolist() == group["file_name"].tolist()
            assert (run / results.decision_file_name(style, machine_type, section, domain)).is_file()
        assert results.read_result_csv(run / "result.csv").iloc[-1]["section"] == results.OFFICIAL


def test_the_notebooks_show_the_official_table_and_domains_of_a_2021_set(edition_data, tmp_path):
    data = edition_data / "2021"
    run = runner.run_solution(paths.NOTEBOOKS / "pytorch", data, tmp_path, epochs=1, timeout=CELL_TIMEOUT,
                              roles=("train", "test"))
    recorded = pd.DataFrame(recording.recorded_metrics(run / "notebooks" / "01-test.ipynb")["rows"])
    assert {"section", "domain", "AUC", "pAUC", "F1 score", "official score"} <= set(recorded.columns)
    assert set(recorded["section"]) == {"00", "01", "02", "arithmetic mean", "harmonic mean"}
    text = (run / "notebooks" / "01-test.ipynb").read_text()
    assert "DCASE 2021 Task 2 · results in" in text
    assert "official score over every machine type: " in text and sum(images(run / "notebooks" / "01-test.ipynb")) == 1
    eda = runner.execute_notebook(paths.NOTEBOOKS / "00-data-eda.ipynb", tmp_path / "eda.ipynb",
                                  {"DATA_DIR": str(data), "CLIPS_PER_LABEL": 2, "AUDIO_PLAYERS": 0}, timeout=CELL_TIMEOUT)
    assert "DCASE 2021 Task 2 layout" in eda.read_text()
    assert sum(images(eda)) >= 5  # counts, the domain counts and spectra, log-mels, label spectra
    compare = runner.run_comparison(tmp_path, paths.NOTEBOOKS, CELL_TIMEOUT)
    assert "DCASE 2021 Task 2: 1 run(s)" in compare.read_text()
