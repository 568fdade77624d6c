"""Real-world bad input: each case gets a message naming the file or setting, broken clips are
skipped and listed, the run goes on, and nothing already written is lost or left half-written."""
import logging
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from helpers import paths, pipeline, results, skiplog, solution
from helpers.errors import ConfigError, DataLayoutError, ToolkitError
from tests.conftest import write_wav

TRAIN_BAD = {
    "normal_id_00_00000090.wav": "cannot be read as audio",  # corrupt: random bytes
    "normal_id_00_00000091.wav": "cannot be read as audio",  # empty: 0 bytes
    "normal_id_00_00000092.wav": "holds no samples",  # a WAV header with no samples
    "normal_id_00_00000093.wav": "too short: 2 log-mel frame(s), one network input needs 5",
    "recording_001.wav": "file name does not follow the DCASE pattern",
}
TEST_BAD = {
    "anomaly_id_02_00000090.wav": "cannot be read as audio",
    "normal_id_02_00000091.wav": "too short: 2 log-mel frame(s), one network input needs 5",
    "id_02_anomaly.wav": "file name does not follow the DCASE pattern",
}


def _write_bad_files(folder, bad: dict) -> None:
    rng = np.random.default_rng(0)
    for name, reason in bad.items():
        path = folder / name
        if reason == "cannot be read as audio" and name.endswith("91.wav"):
            path.write_bytes(b"")
        elif reason == "cannot be read as audio":
            path.write_bytes(rng.bytes(4000))
        elif reason == "holds no samples":
            sf.write(path, np.zeros((0, 1)), 16_000, subtype="PCM_16")
        else:
            write_wav(path, seconds=0.05)  # 800 samples: 2 frames of hop 512


@pytest.fixture(scope="module")
def messy_data(tiny_data, tmp_path_factory):
    """The tiny fan data plus every kind of bad file, and an ID (04) whose test set holds no anomalies."""
    root = tmp_path_factory.mktemp("messy") / "data"
    shutil.copytree(tiny_data / "fan", root / "fan")
    for anomaly in (root / "fan" / "test").glob("anomaly_id_04_*.wav"):
        anomaly.unlink()
    train, test = root / "fan" / "train", root / "fan" / "test"
    _write_bad_files(train, TRAIN_BAD)
    _write_bad_files(test, TEST_BAD)
    write_wav(train / "normal_id_02_00000094.wav", seconds=10, channels=8, seed=1)  # raw MIMII: 8 channels
    write_wav(train / "normal_id_02_00000095.wav", seconds=10, sample_rate=44_100, seed=2)
    for stray in ("notes.txt", ".DS_Store", "Thumbs.db", "spectrogram.png"):
        (train / stray).write_bytes(b"not audio")
    return root


@pytest.fixture(scope="module")
def messy_run(messy_data, tmp_path_factory):
    """Train and test the pytorch solution on the messy data, capturing the warnings."""
    result_root = tmp_path_factory.mktemp("messy-result")
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("helpers").addHandler(handler)
    try:
        skiplog.reset()
        summary = pipeline.train_all(sol, messy_data, result_root, "fan", live=False, progress=False)
        scores, tables = pipeline.test_all(sol, messy_data, result_root, "fan", progress=False)
        skipped = {os.path.basename(s.path): s.reason for s in skiplog.skipped()}
        report = skiplog.summary()
    finally:
        logging.getLogger("helpers").removeHandler(handler)
    return {"summary": summary, "scores": scores, "tables": tables, "skipped": skipped, "report": report,
            "messages": [r.getMessage() for r in records], "result_dir": result_root / "pytorch"}


def test_every_broken_clip_is_skipped_with_its_reason(messy_run):
    expected = {**TRAIN_BAD, **TEST_BAD}
    assert set(messy_run["skipped"]) == set(expected)
    for name, reason in expected.items():
        assert reason in messy_run["skipped"][name], name


def test_skipped_files_are_listed_at_the_end_with_their_paths(messy_run):
    report = messy_run["report"]
    assert report.startswith(f"{len(TRAIN_BAD) + len(TEST_BAD)} file(s) skipped:")
    assert "fan/train/normal_id_00_00000090.wav: cannot be read as audio" in report
    assert "fan/test/id_02_anomaly.wav: file name does not follow the DCASE pattern" in report


def test_the_run_goes_on_with_the_usable_clips(messy_run):
    # 12 tiny training clips + the 8-channel and the 44.1 kHz clip
    assert messy_run["summary"]["clips"].iloc[0] == 14
    scores = messy_run["scores"]
    assert len(scores) == 16 - 2 and scores["score"].notna().all()
    assert not scores["file_name"].isin(list(TEST_BAD)).any()


def test_multichannel_and_other_rate_files_are_used_with_a_warning(messy_run):
    messages = "\n".join(messy_run["messages"])
    assert "normal_id_02_00000094.wav: 8 channels, using the first" in messages
    assert "normal_id_02_00000095.wav: sample rate 44100 Hz, resampled to 16000 Hz" in messages
    assert "normal_id_02_00000094.wav" not in messy_run["skipped"]


def test_stray_non_audio_files_are_ignored_silently(messy_run):
    everything = "\n".join(messy_run["messages"]) + messy_run["report"]
    for stray in ("notes.txt", ".DS_Store", "Thumbs.db", "spectrogram.png"):
        assert stray not in everything


def test_id_without_anomalies_is_reported_and_left_out_of_the_average(messy_run):
    table = messy_run["tables"]["fan"].set_index("id")
    assert np.isnan(table.loc["04", "AUC"]) and table.loc["04", "n_anomaly"] == 0
    assert "fan id 04: the test set holds 2 normal and 0 anomalous clip(s); AUC and pAUC need both" in \
        "\n".join(messy_run["messages"])
    written = results.read_result_csv(messy_run["result_dir"] / "result.csv").set_index("id")
    assert np.isnan(written.loc["04", "AUC"])
    assert written.loc["Average", "AUC"] == pytest.approx(table.loc[["00", "02", "06"], "AUC"].mean())


def test_missing_test_folder_names_the_folder_and_what_is_there(tiny_data, tmp_path):
    shutil.copytree(tiny_data / "fan" / "train", tmp_path / "fan" / "train")
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    with pytest.raises(DataLayoutError) as err:
        pipeline.test_all(sol, tmp_path, tmp_path / "result", "fan", progress=False)
    assert f"expected folder {tmp_path / 'fan' / 'test'}" in str(err.value) and "['train']" in str(err.value)


def test_unknown_machine_type_names_the_ones_available(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "pytorch")
    with pytest.raises(ConfigError, match=r"machine type\(s\) \['fans'\] not in .*available: \['ToyCar'"):
        pipeline.train_all(sol, tiny_data, tmp_path, "fans", live=False, progress=False)


def test_unwritable_result_folder_stops_before_any_work(tiny_data, tmp_path):
    blocker = tmp_path / "result"
    blocker.write_text("a file where the result folder should be")
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    with pytest.raises(ToolkitError) as err:
        pipeline.train_all(sol, tiny_data, blocker, "fan", live=False, progress=False)
    assert f"cannot write to the result folder {blocker / 'pytorch'}" in str(err.value)
    assert "RESULT_ROOT / --result-dir" in str(err.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="permission bits do not bind root")
def test_read_only_result_folder_names_the_folder(tiny_data, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
        with pytest.raises(ToolkitError, match="cannot write to the result folder .*locked/pytorch: Permission denied"):
            pipeline.train_all(sol, tiny_data, locked, "fan", live=False, progress=False)
    finally:
        locked.chmod(0o700)


def test_a_failing_run_keeps_the_results_already_written(tiny_data, tmp_path, monkeypatch):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    pipeline.train_all(sol, tiny_data, tmp_path, "fan", live=False, progress=False)
    pipeline.test_all(sol, tiny_data, tmp_path, "fan", progress=False)
    result_dir = tmp_path / "pytorch"
    before = {p.name: p.read_bytes() for p in result_dir.iterdir() if p.is_file()}

    def broken_writer(path, tables):
        raise OSError("disk full")

    monkeypatch.setattr(results, "write_result_csv", broken_writer)
    with pytest.raises(OSError):
        pipeline.test_all(sol, tiny_data, tmp_path, "fan", progress=False)
    after = {p.name: p.read_bytes() for p in result_dir.iterdir() if p.is_file()}
    assert after["result.csv"] == before["result.csv"]
    assert sorted(after) == sorted(before)  # no temporary files left beside them
    assert pd.read_csv(result_dir / "scores.csv")["score"].notna().all()
