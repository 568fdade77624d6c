from pathlib import Path

import pytest

from helpers import layout, skiplog
from helpers.errors import DataLayoutError
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
    name = layout.EDITIONS[2020].clip_name(section, index, split, label)
    clip = layout.parse_clip(Path("data/fan") / split / name, "fan", split)
    assert (clip.section, clip.index, clip.label_name, clip.split) == (section, index, label or "unknown", split)
    assert clip.name == name


def test_clip_name_has_the_dcase_shape():
    assert layout.EDITIONS[2020].clip_name("02", 7, "train", "normal") == "normal_id_02_00000007.wav"
    assert layout.EDITIONS[2020].clip_name("05", 7, "test", None) == "id_05_00000007.wav"


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
