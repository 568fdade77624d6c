from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import fileio, groundtruth, synth
from helpers.audio import load_audio
from helpers.errors import ConfigError
from helpers.features import log_mel
from helpers.layout import CLIP_SECONDS, DEV_IDS, EVAL_IDS, MACHINE_TYPES, SAMPLE_RATE, list_clips, parse_clip


def _files(root: Path, machine_type: str) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / machine_type).rglob("*.wav"))}


def test_tiny_has_every_type_and_id_with_dcase_names(tiny_data):
    counts = synth.PRESETS["tiny"]
    for machine_type in MACHINE_TYPES:
        for split in ("train", "test"):
            for path in (tiny_data / machine_type / split).iterdir():
                parse_clip(path, machine_type, split)
        train = list_clips(tiny_data, machine_type, "train")
        test = list_clips(tiny_data, machine_type, "test")
        assert {c.section for c in train} == {c.section for c in test} == set(DEV_IDS[machine_type])
        assert {c.label for c in train} == {0}
        for section in DEV_IDS[machine_type]:
            labels = [c.label for c in test if c.section == section]
            assert labels.count(0) == counts[machine_type][section].test_normal
            assert labels.count(1) == counts[machine_type][section].test_anomaly


def test_tiny_clips_are_16k_pcm16_mono_of_exact_length(tiny_data):
    for machine_type in MACHINE_TYPES:
        for path in (tiny_data / machine_type).rglob("*.wav"):
            info = sf.info(str(path))
            assert (info.samplerate, info.channels, info.subtype, info.format) == (SAMPLE_RATE, 1, "PCM_16", "WAV")
            assert info.frames == int(CLIP_SECONDS[machine_type] * SAMPLE_RATE), path
    assert not list(tiny_data.rglob("*.tmp"))


def test_same_seed_same_bytes_with_any_workers(tiny_data, tmp_path):
    again = tmp_path / "again"
    synth.generate(again, size="tiny", seed=0, types=["valve"], workers=1, progress=False)
    assert _files(again, "valve") == _files(tiny_data, "valve")


def test_rerun_keeps_complete_files_and_other_seed_rewrites(tmp_path):
    root = tmp_path / "data"
    synth.generate(root, size="tiny", seed=0, types=["valve"], workers=1, progress=False)
    first = _files(root, "valve")
    clip = next(iter((root / "valve" / "train").iterdir()))
    before = clip.stat().st_mtime_ns
    synth.generate(root, size="tiny", seed=0, types=["valve"], workers=1, progress=False)
    assert clip.stat().st_mtime_ns == before
    synth.generate(root, size="tiny", seed=1, types=["valve"], workers=1, progress=False)
    second = _files(root, "valve")
    assert second.keys() == first.keys()
    assert all(second[name] != first[name] for name in first)


def test_different_seed_differs():
    assert not np.array_equal(synth.synthesize(0, "pump", "00", "train", 0), synth.synthesize(1, "pump", "00", "train", 0))


def test_eval_layout_and_ground_truth(tmp_path):
    root = tmp_path / "eval_data"
    summary = synth.generate(root, size="tiny", seed=0, types=["valve"], eval_layout=True, progress=False)
    assert Path(summary["ground_truth"]) == root / groundtruth.FILE_NAME
    lines = (root / groundtruth.FILE_NAME).read_text().splitlines()
    machine_type = "valve"
    test = list_clips(root, machine_type, "test")
    train = list_clips(root, machine_type, "train")
    assert {c.label for c in test} == {None} and {c.label for c in train} == {0}
    assert {c.section for c in test} == {c.section for c in train} == set(EVAL_IDS[machine_type])
    rows = lines[lines.index(machine_type) + 1:][: len(test)]
    assert sorted(r.split(",")[0] for r in rows) == sorted(c.name for c in test)
    for row in rows:
        eval_name, original, label = row.split(",")
        assert original.startswith(("normal_", "anomaly_")) and original.split("_", 1)[1][:5] == eval_name[:5]
        assert label == str(int(original.startswith("anomaly_")))
    assert sum(r.endswith(",1") for r in rows) == sum(
        counts.test_anomaly for counts in synth.id_counts("tiny", machine_type, eval_layout=True).values())




def test_bad_preset_and_type_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="tiny, small, medium, full"):
        synth.generate(tmp_path, size="huge")
    with pytest.raises(ConfigError, match="ToyCar"):
        synth.generate(tmp_path, size="tiny", types=["blender"])


def test_preset_counts_without_generating(tmp_path):
    for machine_type in MACHINE_TYPES:
        assert set(synth.PRESETS["small"][machine_type]) == set(DEV_IDS[machine_type])
        for counts in synth.PRESETS["small"][machine_type].values():
            assert 50 <= counts.train <= 60 and 20 <= counts.test_normal <= 30 and 20 <= counts.test_anomaly <= 30
    full = synth.PRESETS["full"]
    assert sum(c.total for ids in full.values() for c in ids.values()) == 30_987
    assert all(c.train == 1000 and c.test_normal == 350 for c in full["ToyCar"].values())
    assert all(c.test_normal == 100 and 434 <= c.train <= 968 for t in ("fan", "pump", "slider", "valve")
               for c in full[t].values())
    jobs, truth = synth.plan(tmp_path, "full", 0, list(MACHINE_TYPES), eval_layout=False)
    assert len(jobs) == 30_987 and truth == []


def _mean_spectrum(path: Path) -> np.ndarray:
    return log_mel(load_audio(path)).mean(axis=1)


def test_anomalies_differ_from_normal_clips_of_their_id(tiny_data):
    """Anomalous test clips lie further from the ID's training clips than normal test clips do."""
    distances = {0: [], 1: []}
    for machine_type in MACHINE_TYPES:
        train = list_clips(tiny_data, machine_type, "train")
        references = {i: np.mean([_mean_spectrum(c.path) for c in train if c.section == i], axis=0)
                      for i in DEV_IDS[machine_type]}
        for clip in list_clips(tiny_data, machine_type, "test"):
            distances[clip.label].append(np.abs(_mean_spectrum(clip.path) - references[clip.section]).mean())
    assert np.mean(distances[1]) > np.mean(distances[0])


def test_ids_of_a_type_sound_different(tiny_data):
    for machine_type in MACHINE_TYPES:
        train = list_clips(tiny_data, machine_type, "train")
        spectra = {i: np.array([_mean_spectrum(c.path) for c in train if c.section == i]) for i in DEV_IDS[machine_type]}
        within = np.mean([np.abs(s - s.mean(axis=0)).mean() for s in spectra.values()])
        centres = np.array([s.mean(axis=0) for s in spectra.values()])
        between = np.abs(centres - centres.mean(axis=0)).mean()
        assert between > 2 * within, machine_type


@pytest.mark.parametrize("workers", [1, 2])
def test_every_planned_clip_is_written_with_the_progress_bar_on(tmp_path, workers):
    """What the summary counts is on disk, one worker or several, with the progress bar drawing."""
    summary = synth.generate(tmp_path, size="tiny", seed=0, types=["fan"], workers=workers, progress=True)
    written = sorted(tmp_path.rglob("*.wav"))
    assert len(written) == summary["files"] == 4 * (3 + 2 + 2)
    assert summary["bytes"] == sum(p.stat().st_size for p in written)
    assert all(p.stat().st_mode & 0o777 == fileio.FILE_MODE for p in written)
