import pandas as pd

from helpers import skiplog
from helpers.data import catalog, overview
from tests.conftest import write_wav


def make_tree(root):
    write_wav(root / "fan" / "train" / "normal_id_00_00000000.wav", seconds=0.5)
    write_wav(root / "fan" / "test" / "normal_id_00_00000000.wav", seconds=0.5)
    write_wav(root / "fan" / "test" / "anomaly_id_00_00000000.wav", seconds=0.25, sample_rate=8_000, channels=2)
    (root / "fan" / "test" / "anomaly_id_00_00000001.wav").write_bytes(b"not audio")


def test_file_table_rows_and_skips(tmp_path):
    make_tree(tmp_path / "data")
    table = catalog.file_table(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert len(table) == 3
    row = table[table["path"].str.endswith("anomaly_id_00_00000000.wav")].iloc[0]
    assert (row.section, row.label, row.samples, row.sample_rate, row.channels, row.seconds) == \
        ("00", "anomaly", 2000, 8000, 2, 0.25)
    assert [s.path.split("/")[-1] for s in skiplog.skipped()] == ["anomaly_id_00_00000001.wav"]
    counts = catalog.clip_counts(table)
    assert counts["clips"].sum() == 3


def test_file_table_cache_follows_the_files(tmp_path):
    make_tree(tmp_path / "data")
    first = catalog.file_table(tmp_path / "data", cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache" / "file_tables").glob("*.csv"))) == 1
    again = catalog.file_table(tmp_path / "data", cache_dir=tmp_path / "cache")
    pd.testing.assert_frame_equal(first, again)
    write_wav(tmp_path / "data" / "fan" / "test" / "normal_id_00_00000001.wav", seconds=0.5)
    assert len(catalog.file_table(tmp_path / "data", cache_dir=tmp_path / "cache")) == 4


def test_durations_and_pick_clips(tmp_path):
    make_tree(tmp_path / "data")
    table = catalog.file_table(tmp_path / "data", cache_dir=None)
    summary = overview.durations(table)
    test = summary[summary["split"] == "test"].iloc[0]
    assert test["sample_rates"] == "8000, 16000" and test["channels"] == "1, 2"
    assert len(overview.pick_clips(table, "fan", "normal", 5)) == 1
    assert overview.pick_clips(table, "fan", "anomaly", 5, split="train").empty
