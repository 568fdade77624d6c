from pathlib import Path

import pytest

from helpers import skiplog
from helpers.data import editions, layout
from helpers.errors import ConfigError, DataLayoutError
from tests.conftest import write_wav


def test_parse_dev_and_eval_names():
    clip = layout.parse_clip(Path("x/anomaly_id_04_00000012.wav"), "fan", "test")
    assert (clip.section, clip.index, clip.label, clip.label_name) == ("04", 12, 1, "anomaly")
    clip = layout.parse_clip(Path("x/normal_id_00_00000000.wav"), "fan", "train")
    assert clip.label == 0
    clip = layout.parse_clip(Path("x/id_05_00000003.wav"), "ToyCar", "test")
    assert clip.label is None and clip.label_name == "unknown"


@pytest.mark.parametrize("name", ["normal_id_4_00000012.wav", "abnormal_id_04_00000012.wav",
                                  "normal_id_04_12.wav", "normal_id_04_00000012.flac"])
def test_bad_names_are_rejected_with_the_pattern(name):
    with pytest.raises(DataLayoutError, match="normal_id_XX_NNNNNNNN.wav") as err:
        layout.parse_clip(Path(name), "fan", "test")
    assert name in str(err.value)


def test_training_folder_accepts_normal_only():
    with pytest.raises(DataLayoutError, match="normal clips only"):
        layout.parse_clip(Path("anomaly_id_00_00000001.wav"), "fan", "train")
    with pytest.raises(DataLayoutError):
        layout.parse_clip(Path("id_00_00000001.wav"), "fan", "train")


@pytest.mark.parametrize("section,index,label,split", [
    ("02", 7, "normal", "train"), ("04", 12345678, "anomaly", "test"), ("00", 0, "normal", "test"),
    ("05", 7, None, "test"),
])
def test_clip_name_round_trips(section, index, label, split):
    """A name made by clip_name parses back to the same ID, index and label."""
    name = editions.RULES_2020.clip_name(section, index, split, label)
    clip = layout.parse_clip(Path("data/fan") / split / name, "fan", split)
    assert (clip.section, clip.index, clip.label_name, clip.split) == (section, index, label or "unknown", split)
    assert clip.name == name


def test_clip_name_has_the_dcase_shape():
    assert editions.RULES_2020.clip_name("02", 7, "train", "normal") == "normal_id_02_00000007.wav"
    assert editions.RULES_2020.clip_name("05", 7, "test", None) == "id_05_00000007.wav"


def test_list_clips_sorts_skips_bad_names_and_ignores_other_files(tmp_path):
    test = tmp_path / "fan" / "test"
    for name in ["anomaly_id_02_00000001.wav", "normal_id_02_00000003.wav", "normal_id_00_00000001.wav",
                 "recording 1.wav"]:
        write_wav(test / name, seconds=0.1)
    (test / "notes.txt").write_text("stray file")
    clips = layout.list_clips(tmp_path, "fan", "test")
    assert [c.name for c in clips] == ["normal_id_00_00000001.wav", "normal_id_02_00000003.wav",
                                       "anomaly_id_02_00000001.wav"]
    assert [Path(s.path).name for s in skiplog.skipped()] == ["recording 1.wav"]
    assert layout.sections(clips) == ["00", "02"]


def test_missing_folders_say_what_was_expected(tmp_path):
    with pytest.raises(DataLayoutError, match="does not exist"):
        layout.machine_types(tmp_path / "nope")
    (tmp_path / "stuff").mkdir()
    with pytest.raises(DataLayoutError, match=r"machine_type>/train") as err:
        layout.machine_types(tmp_path)
    assert "stuff" in str(err.value)
    (tmp_path / "fan" / "train").mkdir(parents=True)
    assert layout.machine_types(tmp_path) == ["fan"]
    with pytest.raises(DataLayoutError, match=r"fan/test") as err:
        layout.list_clips(tmp_path, "fan", "test")
    assert "train" in str(err.value)


def test_machine_types_in_dcase_order(tmp_path):
    for machine_type in ["valve", "ToyCar", "fan", "my_machine"]:
        (tmp_path / machine_type / "test").mkdir(parents=True)
    assert layout.machine_types(tmp_path) == ["ToyCar", "fan", "valve", "my_machine"]


def _touch(root, relative):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_a_folder_laid_out_like_the_real_2023_development_set_is_read_without_a_setting(tmp_path):
    for name in ("ToyCar/train/section_00_source_train_normal_0001_car_A1_spd_28V_mic_1.wav",
                 "ToyCar/train/section_00_target_train_normal_0000_car_B2_spd_31V_mic_1.wav",
                 "ToyCar/test/section_00_source_test_normal_0000_car_A1_spd_28V_mic_1.wav",
                 "ToyCar/test/section_00_target_test_anomaly_0001_car_B2_spd_31V_mic_1.wav",
                 "ToyCar/attributes_00.csv"):
        _touch(tmp_path, name)
    ed = layout.detect(tmp_path)
    assert (ed.year, ed.rules, ed.rules.group_word, ed.rules.domains) == (2023, editions.RULES_2022, "section",
                                                                          ("source", "target"))
    train = layout.list_clips(tmp_path, "ToyCar", "train")
    assert [(c.section, c.domain, c.label, c.index) for c in train] == [("00", "source", 0, 1), ("00", "target", 0, 0)]
    assert train[0].attributes == "car_A1_spd_28V_mic_1"
    assert layout.attribute_pairs(train[0].attributes) == {"car": "A1", "spd": "28V", "mic": "1"}
    test = layout.list_clips(tmp_path, "ToyCar", "test")
    assert [(c.domain, c.label_name) for c in test] == [("source", "normal"), ("target", "anomaly")]


@pytest.mark.parametrize("names, folders, year", [
    (["section_00_source_train_normal_0000_strength_1_ambient.wav"], ["source_test", "target_test"], 2021),
    (["section_01_source_train_normal_0000_vel_6_loc_A.wav"], ["test"], 2022),
    (["section_00_source_train_normal_0000_noAttribute.wav"], ["test"], 2024),
    (["normal_id_00_00000000.wav"], ["test"], 2020),
])
def test_the_edition_is_detected_from_folders_and_names(tmp_path, names, folders, year):
    for name in names:
        _touch(tmp_path, f"fan/train/{name}")
    for folder in folders:
        (tmp_path / "fan" / folder).mkdir()
    assert layout.detect(tmp_path).year == year
    (tmp_path / layout.YEAR_FILE).write_text("2025\n")  # a named edition wins
    assert layout.detect(tmp_path).year == 2025


def test_2021_test_folders_hold_their_own_domain_and_eval_names_hide_nothing(tmp_path):
    _touch(tmp_path, "gearbox/source_test/section_03_source_test_0007.wav")
    _touch(tmp_path, "gearbox/target_test/section_03_target_test_normal_0001.wav")
    _touch(tmp_path, "gearbox/target_test/section_03_source_test_normal_0002.wav")  # in the wrong folder
    _touch(tmp_path, "gearbox/train/section_03_source_train_normal_0000.wav")
    clips = layout.list_clips(tmp_path, "gearbox", "test")
    assert [(c.domain, c.label, c.index) for c in clips] == [("source", None, 7), ("target", 0, 1)]
    (skipped,) = skiplog.skipped()
    assert "a source-domain clip in the target-domain folder target_test" in skipped.reason


def test_names_of_another_edition_are_skipped_with_the_editions_pattern(tmp_path):
    _touch(tmp_path, "fan/train/section_00_source_train_normal_0000.wav")
    _touch(tmp_path, "fan/test/section_00_0001.wav")
    _touch(tmp_path, "fan/test/normal_id_00_00000000.wav")
    clips = layout.list_clips(tmp_path, "fan", "test")
    assert [c.name for c in clips] == ["section_00_0001.wav"] and clips[0].domain is None
    assert "does not follow the DCASE 2023 Task 2 pattern" in skiplog.skipped()[0].reason
    with pytest.raises(DataLayoutError, match="a test clip in a train folder"):
        layout.parse_clip(tmp_path / "fan/train/section_00_source_test_normal_0000.wav", "fan", "train")
    with pytest.raises(ConfigError, match="accepted: 2020, 2021, 2022, 2023, 2024, 2025, 2026"):
        editions.edition(2019)


def test_group_titles_name_ids_in_2020_and_sections_with_domains_later():
    assert layout.group_title("anomaly_id_02_00000001.wav", "02", "source") == "id 02"
    assert layout.group_title("section_01_0003.wav", "01", "target") == "section 01 · target"
