"""The editions' rules and facts (helpers.data.editions), then every solution on the synthetic data of the
later editions: names, folders, figures and files."""
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from helpers import paths, recording
from helpers.data import editions, layout, synth
from helpers.detectors import config, solution
from helpers.execution import runner
from helpers.experiments import pipeline, results
from helpers.data.editions import RULE_SETS, RULES_2020, RULES_2021, RULES_2022, NameParts
from helpers.errors import DataLayoutError
from helpers.detectors.solution import solution_folders
from tests import toy_extractor
from tests.test_notebooks import CELL_TIMEOUT, images

# --- the rules of each rule set -------------------------------------------------------------------------------------

# (rules, folder, split, label, domain, attributes, the name, what the name reads back as)
NAMES = [
    (RULES_2020, "train", "train", "normal", "source", "", "normal_id_02_00000007.wav",
     NameParts("02", 7, 0, "source", "")),
    (RULES_2020, "test", "test", "anomaly", "source", "", "anomaly_id_02_00000007.wav",
     NameParts("02", 7, 1, "source", "")),
    (RULES_2020, "test", "test", None, "source", "", "id_02_00000007.wav", NameParts("02", 7, None, "source", "")),
    (RULES_2021, "train", "train", "normal", "target", "speed_28", "section_02_target_train_normal_0007_speed_28.wav",
     NameParts("02", 7, 0, "target", "speed_28")),
    (RULES_2021, "target_test", "test", "anomaly", "target", "", "section_02_target_test_anomaly_0007.wav",
     NameParts("02", 7, 1, "target", "")),
    (RULES_2021, "source_test", "test", None, "source", "a_1", "section_02_source_test_0007_a_1.wav",
     NameParts("02", 7, None, "source", "a_1")),
    (RULES_2022, "test", "test", "anomaly", "target", "vel_6_loc_A", "section_00_target_test_anomaly_0012_vel_6_loc_A.wav",
     NameParts("00", 12, 1, "target", "vel_6_loc_A")),
    (RULES_2022, "test", "test", None, "target", "vel_6", "section_00_0012.wav", NameParts("00", 12, None, None, "")),
]


@pytest.mark.parametrize("rules, folder, split, label, domain, attributes, name, parts", NAMES)
def test_each_rule_set_names_a_clip_and_reads_the_name_back(rules, folder, split, label, domain, attributes, name,
                                                            parts):
    assert rules.clip_name(parts.section, parts.index, split, label, domain, attributes) == name
    assert rules.match(Path("data/fan") / folder / name, split) == parts
    assert rules.accepts(name) and rules.parts(name) == parts
    clip = layout.parse_clip(Path("data/fan") / folder / name, "fan", split)  # the rule set found from the path
    assert (clip.section, clip.index, clip.label, clip.domain, clip.attributes) == tuple(parts)


def test_a_rule_set_refuses_the_eval_names_of_the_others():
    assert not RULES_2022.accepts("section_00_source_test_0001.wav") and RULES_2021.accepts("section_00_source_test_0001.wav")
    assert not RULES_2021.accepts("section_00_0001.wav") and RULES_2022.accepts("section_00_0001.wav")
    assert not RULES_2020.accepts("section_00_0001.wav") and not RULES_2022.accepts("id_00_00000001.wav")
    assert RULES_2020.match(Path("fan/train/id_00_00000001.wav"), "train") is None  # unlabelled: test folders only
    with pytest.raises(DataLayoutError, match="a test clip in a train folder"):
        RULES_2022.match(Path("fan/train/section_00_source_test_normal_0000.wav"), "train")
    with pytest.raises(DataLayoutError, match="training folders hold normal clips only"):
        RULES_2020.match(Path("fan/train/anomaly_id_00_00000000.wav"), "train")


def test_the_rule_set_of_a_path_is_its_domain_folders_else_its_names():
    assert editions.rules_of_name("fan/source_test/section_00_source_test_normal_0000.wav") is RULES_2021
    assert editions.rules_of_name("normal_id_00_00000000.wav") is RULES_2020
    assert editions.rules_of_name("section_00_0000.wav") is RULES_2022
    with pytest.raises(DataLayoutError) as err:
        editions.rules_of_name("fan/test/recording.wav")
    assert "fan/test/recording.wav" in str(err.value) and all(r.accepted in str(err.value) for r in RULE_SETS)
    assert [r.title for r in RULE_SETS] == ["DCASE 2020 Task 2", "DCASE 2021 Task 2", "DCASE 2022-2026 Task 2"]


def test_groups_their_names_and_the_result_files_of_each_rule_set():
    assert [(r.group_word, r.group_columns, r.domains) for r in RULE_SETS] == [
        ("id", ("section",), ("source",)), ("section", ("section", "domain"), ("source", "target")),
        ("section", ("section",), ("source", "target"))]
    assert [r.group_title("02", "target") for r in RULE_SETS] == ["id 02", "section 02 · target", "section 02 · target"]
    assert RULES_2022.group_title("02", None) == "section 02 · unknown domain"
    assert [r.score_file_name("fan", "02", "target") for r in RULE_SETS] == [
        "anomaly_score_fan_id_02.csv", "anomaly_score_fan_section_02_target_test.csv",
        "anomaly_score_fan_section_02_test.csv"]
    assert RULES_2021.decision_file_name("fan", "02", "source") == "decision_result_fan_section_02_source_test.csv"
    assert [r.result_header[:3] for r in RULE_SETS] == [
        ["id", "AUC", "pAUC"], ["section", "domain", "AUC"], ["section", "AUC (source)", "AUC (target)"]]
    assert [list(r.result_mean_rows.values()) for r in RULE_SETS] == [
        ["Average"], ["arithmetic mean", "harmonic mean"], ["arithmetic mean", "harmonic mean"]]
    assert [r.result_official_line for r in RULE_SETS] == [False, True, True]
    assert [len(r.figures) for r in RULE_SETS] == [5, 5, 12]
    assert [r.ranked for r in RULE_SETS] == [("AUC", "pAUC"), ("AUC", "pAUC"), ("AUC (source)", "AUC (target)", "pAUC")]


def test_score_files_and_roc_curves_follow_each_rule_sets_groups():
    scores = pd.DataFrame({"section": ["00", "00", "00", "01"], "domain": ["source", "target", None, "source"],
                           "label": [0, 1, None, 1], "score": [0.1, 0.9, 0.5, 0.7], "file_name": list("abcd")})
    assert [(s, d, g["file_name"].tolist()) for s, d, g in RULES_2021.file_groups(scores)] == [
        ("00", "source", ["a"]), ("00", "target", ["b"]), ("00", "unknown", ["c"]), ("01", "source", ["d"])]
    for rules in (RULES_2020, RULES_2022):
        assert [(s, d, g["file_name"].tolist()) for s, d, g in rules.file_groups(scores)] == [
            ("00", None, ["a", "b", "c"]), ("01", None, ["d"])]
    assert [(n, g["file_name"].tolist()) for n, _, g in RULES_2020.roc_groups(scores)] == [
        ("id 00", ["a", "b"]), ("id 01", ["d"])]
    assert [(n, g["file_name"].tolist()) for n, _, g in RULES_2021.roc_groups(scores)][:2] == [
        ("section 00 source", ["a"]), ("section 00 target", ["b"])]
    assert [(n, g["file_name"].tolist()) for n, _, g in RULES_2022.roc_groups(scores)][:2] == [
        ("section 00 source", ["a", "b"]), ("section 00 target", ["b"])]  # every anomaly of the section, as AUC (source)


def test_the_official_score_is_the_arithmetic_mean_in_2020_and_the_harmonic_mean_later():
    table = pd.DataFrame({"section": ["00", "01"], "domain": "source", "AUC": [0.5, 1.0], "pAUC": [1.0, math.nan],
                          "AUC (source)": [0.5, 1.0], "AUC (target)": [1.0, 1.0]})
    assert RULES_2020.official_score([table]) == pytest.approx((0.5 + 1.0 + 1.0) / 3)  # nan left out
    assert RULES_2021.official_score([table]) == pytest.approx(3 / (2 + 1 + 1))
    assert RULES_2022.official_score([table]) == pytest.approx(5 / (2 + 1 + 1 + 1 + 1))
    assert "arithmetic mean" in RULES_2020.official_rule and "harmonic mean" in RULES_2022.official_rule
    assert [r.official_mean for r in RULE_SETS] == ["arithmetic mean", "harmonic mean", "harmonic mean"]


# --- the table of per-year facts -----------------------------------------------------------------------------------

def test_every_year_is_one_row_and_each_rule_set_has_one_year_without_a_marker():
    assert editions.YEARS == (2020, 2021, 2022, 2023, 2024, 2025, 2026)
    assert [editions.edition(y).rules for y in editions.YEARS] == [RULES_2020, RULES_2021, *[RULES_2022] * 5]
    for rules in RULE_SETS:
        unmarked = [e.year for e in editions.EDITIONS.values() if e.rules is rules and e.marker is None]
        assert unmarked == [{"2020": 2020, "2021": 2021, "2022": 2022}[rules.name]]
    for ed in editions.EDITIONS.values():
        assert list(ed.dev_sections) == list(ed.dev_types) and list(ed.eval_sections) == list(ed.eval_types)
        assert {"dev", "additional"} <= set(ed.records) and ed.seconds("fan") == 10.0
    first = editions.edition(2020)
    assert first.dev_sections["ToyCar"] == ("01", "02", "03", "04") and first.eval_sections["fan"] == ("01", "03", "05")
    assert first.seconds("ToyCar") == 11.0 and "ground_truth" in first.records
    assert editions.edition("2024").no_attribute == ("ToyTrain", "gearbox", "slider")
    assert editions.edition(2021).folders("test") == {"source_test": "source", "target_test": "target"}


def _tree(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


@pytest.mark.parametrize("names, year", [
    (["ToyCarEmu/train/section_00_source_train_normal_0000_a_1.wav"], 2026),
    (["fan/supplemental/x.wav", "fan/train/section_00_source_train_normal_0000_a_1.wav"], 2025),
    (["fan/train/section_00_source_train_normal_0000_noAttribute.wav"], 2024),
    (["fan/train/section_00_source_train_normal_0000_a_1.wav"], 2023),
    (["fan/train/section_01_source_train_normal_0000_a_1.wav"], 2022),
    (["fan/source_test/section_00_source_test_normal_0000.wav", "fan/train/x.wav"], 2021),
    (["fan/train/normal_id_00_00000000.wav"], 2020),
])
def test_a_years_marker_tells_its_data_from_the_other_years_of_its_rules(tmp_path, names, year):
    assert layout.detect(_tree(tmp_path, names)).year == year


def test_no_module_outside_the_editions_branches_on_a_rule_set_or_a_year():
    """Rule-set names, .style and comparisons with a year appear in helpers/data/editions.py only."""
    pattern = re.compile(r"""["'](2020|2021|2022)["']|\.style\b|(==|!=|<=|>=|<|>)\s*202\d\b|\b202\d\s*(==|!=|<=|>=|<|>)""")
    found = [f"{path.name}:{number}: {line.strip()}" for path in sorted((paths.PROJECT_ROOT / "helpers").glob("*.py"))
             if path.name != "editions.py"
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if pattern.search(line) and "plots.use_style" not in line and ".style.format" not in line]
    assert found == []


# --- every solution on the later editions ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def edition_data(tmp_path_factory):
    """Tiny synthetic sets of 2021 (source_test/target_test folders, three sections), 2022 (one test
    folder, three sections) and 2024 (one section whose attributes are hidden: noAttribute, one class
    for a classifier)."""
    root = tmp_path_factory.mktemp("editions")
    for year, types in ((2021, ["fan"]), (2022, ["bearing"]), (2024, ["slider"])):
        synth.generate(root / str(year), size="tiny", seed=0, types=types, workers=1, progress=False, year=year)
    return root


PRETRAINED = "pretrained_embeddings"
EVALUATOR_ROWS = ("arithmetic mean", "harmonic mean", "source harmonic mean", "target harmonic mean")


def one_per_training_kind() -> list[Path]:
    """The first solution folder of each (framework, objective, scope): what meets an edition's layout
    differently (sections, domains and attributes become classes, scopes, files); an input kind reads
    the log-mels, whatever the layout."""
    chosen = {}
    for folder in solution_folders():
        settings = config.load(folder / "config.yaml")
        chosen.setdefault((settings["framework"], settings["training"]["objective"], settings["training"]["scope"]), folder)
    return list(chosen.values())


@pytest.mark.parametrize("folder", one_per_training_kind(), ids=lambda f: f.name)
def test_every_kind_of_solution_trains_and_tests_on_the_later_editions_data(folder, edition_data, tmp_path):
    """Every solution's notebooks run on 2023's layout in tests/test_notebooks.py (published names).
    The layouts are what is tested: a frozen network's solution uses the toy extractor (not aisfx's
    seconds per clip), and the Keras solution, whose engine trains on the same items as the torch one's,
    runs on 2024's layout only (one section, noAttribute)."""
    sol = solution.load(folder, {"training.epochs": 1, **(toy_extractor.overrides(tmp_path) if folder.name == PRETRAINED else {})})
    for year in (2024,) if sol.framework == "keras" else (2021, 2022, 2024):
        data = edition_data / str(year)
        assert layout.detect(data).year == year
        pipeline.train_all(sol, data, tmp_path / str(year), live=False, progress=False)
        scores, tables = pipeline.test_all(sol, data, tmp_path / str(year), progress=False)
        rules = editions.edition(year).rules
        (machine_type, table), = tables.items()
        clips = layout.list_clips(data, machine_type, "test")
        assert len(scores) == len(clips) and set(scores["domain"]) == {"source", "target"}
        assert set(scores["decision"]) <= {0, 1}
        assert list(table.columns[:len(rules.group_columns)]) == list(rules.group_columns)
        assert set(table["section"]) == set(editions.edition(year).dev_sections[machine_type])
        run = tmp_path / str(year) / folder.name
        payload = json.loads((run / "metrics.json").read_text())
        assert payload["year"] == year and 0 <= payload["official_score"] <= 1
        for section, domain, group in rules.file_groups(scores):
            written = results.read_scores(run / rules.score_file_name(machine_type, section, domain))
            assert written["file_name"].tolist() == group["file_name"].tolist()
            assert (run / rules.decision_file_name(machine_type, section, domain)).is_file()
        written = results.read_result_csv(run / "result.csv")
        assert written.iloc[-1]["section"] == results.OFFICIAL
        if rules.evaluator_rows:  # 2022 on: the official evaluators' rows, by their names, in both files
            evaluator = written[written["evaluator"]]
            assert evaluator["section"].tolist() == [
                *EVALUATOR_ROWS, *(f"{name}{editions.OVER_ALL}" for name in EVALUATOR_ROWS)]
            assert evaluator["AUC"].notna().all() and 0 <= written.iloc[-1][results.CI95] < 1
            assert payload["official_score_ci95"] == written.iloc[-1][results.CI95]
            assert set(payload["machine_types"][machine_type]["evaluator"]) == set(EVALUATOR_ROWS)
            assert payload["evaluator"]["official score"] == payload["official_score"]
        else:
            assert not written["evaluator"].any() and "official_score_ci95" not in payload


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
