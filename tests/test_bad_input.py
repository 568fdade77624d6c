"""Real-world bad input: each case gets a message naming the file or setting, broken clips are
skipped and listed, the run goes on, and nothing already written is lost or left half-written."""
import logging
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import paths, skiplog
from helpers.detectors import solution
from helpers.experiments import pipeline, results
from helpers.errors import ConfigError, DataLayoutError, ToolkitError
from tests.conftest import write_wav

TRAIN_BAD = {
    "normal_id_00_00000090.wav": "cannot be read as audio",  # corrupt: random bytes
    "normal_id_00_00000091.wav": "cannot be read as audio",  # empty: 0 bytes
    "normal_id_00_00000092.wav": "holds no samples",  # a WAV header with no samples
    "normal_id_00_00000093.wav": "too short: 2 log-mel frame(s), one network input needs 5",
    "recording_001.wav": "file name does not follow the DCASE 2020 Task 2 pattern",
}
TEST_BAD = {
    "anomaly_id_02_00000090.wav": "cannot be read as audio",
    "normal_id_02_00000091.wav": "too short: 2 log-mel frame(s), one network input needs 5",
    "id_02_anomaly.wav": "file name does not follow the DCASE 2020 Task 2 pattern",
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
        converted = {os.path.basename(s.path): s.reason for s in skiplog.converted()}
        report = skiplog.summary()
    finally:
        logging.getLogger("helpers").removeHandler(handler)
    return {"summary": summary, "scores": scores, "tables": tables, "skipped": skipped, "converted": converted, "report": report,
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
    assert "fan/test/id_02_anomaly.wav: file name does not follow the DCASE 2020 Task 2 pattern" in report


def test_the_run_goes_on_with_the_usable_clips(messy_run):
    # 12 tiny training clips + the 8-channel and the 44.1 kHz clip
    assert messy_run["summary"]["clips"].iloc[0] == 14
    scores = messy_run["scores"]
    assert len(scores) == 16 - 2 and scores["score"].notna().all()
    assert not scores["file_name"].isin(list(TEST_BAD)).any()


def test_multichannel_and_other_rate_files_are_used_with_a_warning(messy_run):
    messages = "\n".join(messy_run["messages"])
    assert "normal_id_02_00000094.wav: 8 channels, the first used" in messages
    assert "normal_id_02_00000095.wav: sample rate 44100 Hz, resampled to 16000 Hz" in messages
    assert "normal_id_02_00000094.wav" not in messy_run["skipped"]
    assert messy_run["converted"] == {
        "normal_id_02_00000094.wav": "8 channels, the first used (as the DCASE 2020 data was cut from MIMII)",
        "normal_id_02_00000095.wav": "sample rate 44100 Hz, resampled to 16000 Hz"}
    assert "2 file(s) converted:" in messy_run["report"]


def test_stray_non_audio_files_are_ignored_silently(messy_run):
    everything = "\n".join(messy_run["messages"]) + messy_run["report"]
    for stray in ("notes.txt", ".DS_Store", "Thumbs.db", "spectrogram.png"):
        assert stray not in everything


def test_id_without_anomalies_is_reported_and_left_out_of_the_average(messy_run):
    table = messy_run["tables"]["fan"].set_index("section")
    assert np.isnan(table.loc["04", "AUC"]) and table.loc["04", "n_anomaly"] == 0
    assert "fan id 04: the test set holds 2 normal and 0 anomalous clip(s); AUC and pAUC need both" in \
        "\n".join(messy_run["messages"])
    written = results.read_result_csv(messy_run["result_dir"] / "result.csv").set_index("section")
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
    """The last step of writing result.csv (the rename over the old file) fails: the old file stays
    whole, although the new run's result.csv would differ (it adds a machine type), and no
    temporary file is left beside it."""
    from helpers import fileio

    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    pipeline.train_all(sol, tiny_data, tmp_path, "fan,valve", live=False, progress=False)
    pipeline.test_all(sol, tiny_data, tmp_path, "fan", progress=False)
    result_dir = tmp_path / "pytorch"
    before = (result_dir / "result.csv").read_bytes()
    replace = os.replace

    def rename_fails_for_result_csv(source, target):
        if os.path.basename(target) == "result.csv":
            raise OSError(28, "No space left on device")
        replace(source, target)

    monkeypatch.setattr(fileio.os, "replace", rename_fails_for_result_csv)
    with pytest.raises(ToolkitError) as err:
        pipeline.test_all(sol, tiny_data, tmp_path, "fan,valve", progress=False)
    assert str(err.value) == f"cannot write {result_dir / 'result.csv'}: No space left on device"
    assert (result_dir / "result.csv").read_bytes() == before
    assert not [p.name for p in result_dir.iterdir() if p.name.startswith(".")]  # no temporary files left
    monkeypatch.setattr(fileio.os, "replace", replace)
    pipeline.test_all(sol, tiny_data, tmp_path, "fan,valve", progress=False)
    assert set(results.read_result_csv(result_dir / "result.csv")["machine_type"]) == {"fan", "valve"}


def test_a_training_folder_without_a_usable_clip_names_the_folder(tmp_path):
    train = tmp_path / "data" / "fan" / "train"
    train.mkdir(parents=True)
    _write_bad_files(train, {k: v for k, v in TRAIN_BAD.items() if k.startswith("normal")})
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    summary = pipeline.train_all(sol, tmp_path / "data", tmp_path / "result", "fan", live=False, progress=False)
    why = f"no usable training clip in {train}: 4 well-named clip(s), every one skipped"
    assert summary["not_trained"].iloc[0].startswith(why)
    assert skiplog.notices() == [f"fan: not trained: {summary['not_trained'].iloc[0]}"]
    assert len(skiplog.skipped()) == 4
    with pytest.raises(DataLayoutError, match=re.escape(why)):
        pipeline.train_detector(sol, tmp_path / "data", ["fan"], tmp_path / "result", live=False, progress=False)


def test_a_test_folder_without_a_usable_clip_is_reported_and_the_other_types_go_on(tiny_data, tmp_path, caplog):
    data = tmp_path / "data"
    for machine_type in ("fan", "valve"):
        shutil.copytree(tiny_data / machine_type, data / machine_type)
    for clip in (data / "fan" / "test").iterdir():
        clip.write_bytes(b"broken")
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    pipeline.train_all(sol, data, tmp_path, live=False, progress=False)
    scores, tables = pipeline.test_all(sol, data, tmp_path, progress=False)
    assert set(scores["machine_type"]) == {"valve"} and list(tables) == ["valve"]
    assert f"fan: no usable test clip in {data / 'fan' / 'test'} (16 well-named clip(s), every one skipped)" in caplog.text
    written = results.read_result_csv(tmp_path / "pytorch" / "result.csv")
    assert set(written["machine_type"]) == {"valve"}


def test_a_clip_too_short_to_show_is_skipped_by_the_visualize_notebook(tiny_data, tmp_path):
    """A clip that changed since the test run (now 2 frames long) is left out of the figures and
    listed with its reason; the notebook shows the other clips and ends."""
    from helpers.execution import runner
    from helpers.experiments import inspection

    data = tmp_path / "data"
    shutil.copytree(tiny_data / "valve", data / "valve")
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    pipeline.train_all(sol, data, tmp_path, live=False, progress=False)
    scores, _ = pipeline.test_all(sol, data, tmp_path, progress=False)
    short, kept = scores["path"].iloc[0], scores["path"].iloc[1]
    write_wav(Path(short), seconds=0.05)
    assert inspection.view_clip(sol, pipeline.load_detector(sol, "valve", tmp_path), short) is None
    assert skiplog.skipped()[-1].reason == "too short: 2 log-mel frame(s), one network input needs 5"
    executed = runner.execute_notebook(paths.NOTEBOOKS / "pytorch" / "02-visualize-predictions.ipynb",
                                       tmp_path / "visual.ipynb",
                                       {"DATA_DIR": str(data), "RESULT_ROOT": str(tmp_path), "CLIPS": [short, kept]},
                                       timeout=300)
    text = executed.read_text()
    assert "1 file(s) skipped:" in text
    assert f"{short}: too short: 2 log-mel frame(s)" in text
