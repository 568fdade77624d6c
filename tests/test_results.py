import json
import math
import os

import pandas as pd
import pytest

from helpers.data.editions import RULES_2020, RULES_2021, RULES_2022, edition
from helpers.errors import ToolkitError
from helpers.fileio import atomic_write_text
from helpers.experiments.results import (CI95, OFFICIAL, collect_results, official_table, read_result_csv, read_scores, write_metrics_json,
                             write_result_csv, write_scores)

NAN = float("nan")


def tables():
    decided = {"precision": [0.5, 1.0], "recall": [1.0, 0.5], "F1 score": [2 / 3, 2 / 3]}
    return {
        "fan": pd.DataFrame({"section": ["00", "02"], "AUC": [0.6, 0.8], "pAUC": [0.5, 0.7], **decided}),
        "valve": pd.DataFrame({"section": ["00"], "AUC": [NAN], "pAUC": [NAN], "precision": [NAN], "recall": [NAN],
                               "F1 score": [NAN]}),
    }


def sections_2022():
    scores = pd.DataFrame({"section": ["00"] * 6 + ["01"] * 6, "domain": ["source", "source", "target", "target", "source", "target"] * 2,
                           "label": [0, 0, 0, 0, 1, 1] * 2, "score": [1.0, 2.0, 5.0, 6.0, 3.0, 7.0] * 2,
                           "decision": [0, 1, 0, 0, 1, 0] * 2})
    return {"bearing": RULES_2022.group_table(scores)}


def test_result_csv_has_the_original_2020_layout_with_the_decision_figures(tmp_path):
    path = write_result_csv(tmp_path / "result.csv", tables(), RULES_2020)
    lines = path.read_text().split("\n")
    assert lines[:5] == ["fan", "id,AUC,pAUC,precision,recall,F1 score", f"00,0.6,0.5,0.5,1.0,{2 / 3!r}",
                         f"02,0.8,0.7,1.0,0.5,{2 / 3!r}", f"Average,0.7,0.6,0.75,0.75,{2 / 3!r}"]
    assert lines[5:7] == ["", "valve"] and "official score" not in path.read_text()
    frame = read_result_csv(path)
    assert frame["machine_type"].tolist() == ["fan", "fan", "fan", "valve", "valve"]
    assert frame.iloc[2]["section"] == "Average" and frame.iloc[2]["AUC"] == pytest.approx(0.7)
    assert math.isnan(frame.iloc[3]["AUC"])


def test_result_csv_2022_layout_is_the_baselines(tmp_path):
    path = write_result_csv(tmp_path / "result.csv", sections_2022(), RULES_2022)
    lines = path.read_text().split("\n")
    assert lines[0] == "bearing"
    assert lines[1] == ("section,AUC (source),AUC (target),pAUC,pAUC (source),pAUC (target),precision (source),"
                        "precision (target),recall (source),recall (target),F1 score (source),F1 score (target),"
                        "AUC (all)")  # the baseline's, then the evaluators' AUC over a section's clips
    assert [line.split(",")[0] for line in lines[2:6]] == ["00", "01", "arithmetic mean", "harmonic mean"]
    assert lines[2].split(",")[1:3] == ["1.0", "0.5"]
    official = RULES_2022.official_score(list(sections_2022().values()))
    assert lines[7] == f"official score,{official!r}"
    frame = read_result_csv(path)
    assert frame.iloc[-1]["machine_type"] == "all" and frame.iloc[-1]["official score"] == pytest.approx(official)
    assert frame.iloc[0]["AUC (target)"] == 0.5


def test_result_csv_2022_ends_with_the_evaluators_rows(tmp_path):
    tables = sections_2022()
    clips = pd.DataFrame({"label": [0, 0, 1, 1], "score": [0.1, 0.4, 0.35, 0.8]})
    summary = RULES_2022.evaluator_summary(tables, clips)
    lines = write_result_csv(tmp_path / "result.csv", tables, RULES_2022, summary).read_text().split("\n")
    assert lines[6:11] == [",,AUC,pAUC,precision,recall,F1 score", *(
        f"{name},,{summary['machine_types']['bearing'][name]['AUC']!r}," + ",".join(
            repr(summary["machine_types"]["bearing"][name][f]) for f in ("pAUC", "precision", "recall", "F1 score"))
        for name in ("arithmetic mean", "harmonic mean", "source harmonic mean", "target harmonic mean"))]
    assert lines[12] == lines[6] and lines[13].startswith('"arithmetic mean over all machine types, sections, and domains",,')
    assert lines[-3:] == [f"official score,{summary['all']['official score']!r}",
                          f"official score ci95,{summary['all']['official score ci95']!r}", ""]
    frame = read_result_csv(tmp_path / "result.csv")
    assert frame[frame["evaluator"]]["machine_type"].tolist() == ["bearing"] * 4 + ["all"] * 4
    assert frame.iloc[-1][CI95] == summary["all"]["official score ci95"]
    assert frame.iloc[-1]["section"] == OFFICIAL and not frame.iloc[-1]["evaluator"]


def test_score_and_decision_files_are_named_as_each_edition_names_them(tmp_path):
    scores = pd.DataFrame({"section": ["02", "02"], "domain": ["source", "target"],
                           "file_name": ["a.wav", "b.wav"], "score": [0.5, 7.25], "decision": [0, 1]})
    written = write_scores(tmp_path / "2020", RULES_2020, "fan", scores.assign(domain="source"))
    assert [p.name for p in written] == ["anomaly_score_fan_id_02.csv", "decision_result_fan_id_02.csv"]
    assert written[0].read_text() == "a.wav,0.5\nb.wav,7.25\n" and written[1].read_text() == "a.wav,0\nb.wav,1\n"
    assert read_scores(written[0])["score"].tolist() == [0.5, 7.25]
    written = write_scores(tmp_path / "2021", RULES_2021, "gearbox", scores)
    assert sorted(p.name for p in written) == sorted([
        "anomaly_score_gearbox_section_02_source_test.csv", "decision_result_gearbox_section_02_source_test.csv",
        "anomaly_score_gearbox_section_02_target_test.csv", "decision_result_gearbox_section_02_target_test.csv"])
    written = write_scores(tmp_path / "2023", RULES_2022, "ToyCar", scores.drop(columns="decision"))
    assert [p.name for p in written] == ["anomaly_score_ToyCar_section_02_test.csv"]  # no decisions, no decision file


def test_metrics_json_has_stable_keys_and_the_official_scores(tmp_path):
    payload = json.loads(write_metrics_json(tmp_path / "m.json", sections_2022(), edition(2023),
                                            {"solution": "x"}).read_text())
    assert (payload["solution"], payload["year"], payload["style"], payload["group"]) == ("x", 2023, "2022", "section")
    entry = payload["machine_types"]["bearing"]
    assert entry["sections"][0]["section"] == "00"
    assert (entry["sections"][0]["auc_source"], entry["sections"][0]["auc_target"]) == (1.0, 0.5)
    assert {"pauc", "pauc_source", "f1_target", "n_normal"} <= set(entry["sections"][0])
    assert entry["harmonic_mean"]["auc_target"] == pytest.approx(0.5)
    assert entry["official_score"] == pytest.approx(payload["official_score"])  # one machine type: the same figure
    legacy = json.loads(write_metrics_json(tmp_path / "l.json", tables(), edition(2020)).read_text())
    assert legacy["machine_types"]["fan"]["arithmetic_mean"]["auc"] == pytest.approx(0.7)
    assert legacy["official_score"] == pytest.approx((0.6 + 0.8 + 0.5 + 0.7) / 4)


def test_collect_results_compares_the_runs_of_one_edition(tmp_path):
    for run, ed, table in (("a", 2023, sections_2022()), ("b", 2023, sections_2022()), ("old", 2020, tables())):
        (tmp_path / run).mkdir()
        write_metrics_json(tmp_path / run / "metrics.json", table, edition(ed))
    collected = collect_results(tmp_path, 2023)
    assert set(collected["solution"]) == {"a", "b"} and set(collected["year"]) == {2023}
    table = official_table(collected)
    assert table.index.tolist() == ["bearing", "all"] and table.columns.tolist() == ["a", "b"]
    assert set(collected[collected["section"] == "00"]["metric"]) >= {"auc_source", "auc_target", "pauc"}
    assert set(collect_results(tmp_path, 2020)["solution"]) == {"old"}
    with pytest.raises(Exception, match="no run of year 2021"):
        collect_results(tmp_path, 2021)


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "result.csv"
    target.write_text("old")

    with pytest.raises(TypeError):
        atomic_write_text(target, 12345)  # not text: fails after the temp file exists
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["result.csv"]


def test_unwritable_result_folder_names_the_folder(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the result folder should be")
    with pytest.raises(ToolkitError) as err:
        write_result_csv(blocker / "pytorch" / "result.csv", tables(), RULES_2020)
    assert str(err.value).startswith(f"cannot write to folder {blocker / 'pytorch'}: ")
    assert blocker.read_text() == "a file where the result folder should be"
