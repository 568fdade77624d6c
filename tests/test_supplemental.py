"""DCASE 2025's supplemental clips: their names, the synthetic 2025 layout's, the clean machine clips as
extra normal training clips, the noise clips mixed into noisy copies of the training clips, and the
data overview's spectra of both."""
from __future__ import annotations

import nbformat
import numpy as np
import pytest
import soundfile as sf

from helpers import paths, skiplog
from helpers.data import catalog, layout, noisy, overview, synth
from helpers.detectors import solution
from helpers.errors import ConfigError, DataLayoutError
from helpers.execution import runner
from helpers.experiments import pipeline
from tests.conftest import write_wav


def rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(x, np.float64)))))


@pytest.fixture(scope="module")
def data_2025(tmp_path_factory):
    """The tiny synthetic 2025 layout of fan: 4 source and 1 target training clips, 2 clean machine and 2 noise clips."""
    root = tmp_path_factory.mktemp("dcase2025")
    made = synth.generate(root, size="tiny", types=["fan"], year=2025, progress=False, workers=1)
    assert made["supplemental"] == {"fan": {"machine": 2, "noise": 2}} and made["clips"]["fan"]["train"] == 5
    return root


def test_supplemental_names_are_read_and_a_bad_one_is_skipped(tmp_path):
    folder = tmp_path / "fan" / layout.SUPPLEMENTAL
    for name in ("section_00_machine_source_0000_noAttribute.wav", "section_00_machine_0001_.wav",
                 "section_00_noise_0000.wav", "section_00_noise_target_0001_n_B.wav", "machine_0000.wav"):
        write_wav(folder / name, seconds=0.1)
    machine = layout.supplemental_clips(tmp_path, "fan", "machine")
    assert [(c.section, c.domain, c.index, c.attributes, c.label, c.split) for c in machine] == [
        ("00", "source", 0, "noAttribute", 0, "train"), ("00", "source", 1, "", 0, "train")]
    noise = layout.supplemental_clips(tmp_path, "fan", "noise")
    assert [(c.domain, c.index, c.attributes) for c in noise] == [("source", 0, ""), ("target", 1, "n_B")]
    assert [(s.path.split("/")[-1], s.reason) for s in skiplog.skipped()] == [
        ("machine_0000.wav", f"file name does not follow the supplemental pattern; accepted: {layout.SUPPLEMENTAL_ACCEPTED}")]
    # a detector lists its training clips by path: a clean machine clip reads back as one, a noise clip never
    assert layout.parse_clip(machine[0].path, "fan", "train") == machine[0]
    with pytest.raises(DataLayoutError, match="a noise clip, not machine sound"):
        layout.parse_clip(noise[0].path, "fan", "train")
    with pytest.raises(ConfigError, match="accepted: machine, noise"):
        layout.supplemental_clips(tmp_path, "fan", "noises")
    assert layout.supplemental_clips(tmp_path, "valve", "machine") == []


def test_the_synthetic_2025_layout_has_the_machine_and_the_noise_apart(data_2025):
    assert layout.detect(data_2025).year == 2025
    machine = [sf.read(c.path)[0] for c in layout.supplemental_clips(data_2025, "fan", "machine")]
    noise = [sf.read(c.path)[0] for c in layout.supplemental_clips(data_2025, "fan", "noise")]
    train = [sf.read(c.path)[0] for c in layout.list_clips(data_2025, "fan", "train")]
    assert all(len(x) == len(train[0]) and rms(x) > 1e-4 for x in machine + noise)
    # a training clip mixes both at their levels in it (their powers add): louder than either alone
    assert np.mean([rms(x) for x in train]) > max(np.mean([rms(x) for x in machine]), np.mean([rms(x) for x in noise]))


def test_a_mix_has_the_drawn_snr_and_never_passes_full_scale():
    rng = np.random.default_rng(0)
    clip = 0.1 * rng.standard_normal((16_000, 2)).astype(np.float32)
    noise = rng.standard_normal(5_000).astype(np.float32)  # shorter than the clip: looped
    for snr in (-5.0, 0.0, 7.5):
        noise_part = noisy.mix(clip, noise, snr, offset=1_234) - clip
        assert 20 * np.log10(rms(clip) / rms(noise_part[:, 0])) == pytest.approx(snr, abs=1e-3)
        assert np.allclose(noise_part[:, 0], noise_part[:, 1], atol=1e-6)  # the same noise on every channel
        looped = np.concatenate([noise[1_234:], noise, noise, noise])[:16_000]  # from the offset, then over again
        gain = rms(noise_part[:, 0]) / rms(looped)
        assert np.allclose(noise_part[:, 0], gain * looped, atol=1e-5)
    loud = noisy.mix(np.full((100, 1), 0.9, np.float32), np.ones(100, np.float32), -20.0, 0)
    assert np.max(np.abs(loud)) == pytest.approx(1.0)


def test_noisy_copies_are_made_once_named_like_their_clip_within_the_snr_range(data_2025, tmp_path):
    clips = layout.list_clips(data_2025, "fan", "train")
    noise = layout.supplemental_clips(data_2025, "fan", "noise")
    broken = tmp_path / "fan" / layout.SUPPLEMENTAL / "section_00_noise_source_0009_noAttribute.wav"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"RIFF not audio")
    pool = noise + layout.supplemental_clips(tmp_path, "fan", "noise")
    made = noisy.copies(clips, pool, 2, (-3.0, 3.0), seed=0)
    assert [skipped.path for skipped in skiplog.skipped()] == [str(broken)]
    assert [c.name for c in made] == [c.name for c in clips for _ in range(2)]
    assert [(c.section, c.domain, c.attributes) for c in made[::2]] == [(c.section, c.domain, c.attributes) for c in clips]
    assert len({c.path for c in made}) == len(made)
    for clip, copy in zip([c for c in clips for _ in range(2)], made):
        original, rate = sf.read(clip.path, dtype="float32")
        mixed, copy_rate = sf.read(copy.path, dtype="float32")
        assert copy_rate == rate and sf.info(copy.path).subtype == "FLOAT"
        assert -3.0 - 1e-3 <= 20 * np.log10(rms(original) / rms(mixed - original)) <= 3.0 + 1e-3
        assert layout.parse_clip(copy.path, "fan", "train").name == clip.name
    stamps = [c.path.stat().st_mtime_ns for c in made]
    again = noisy.copies(clips, noise, 2, (-3.0, 3.0), seed=0)
    assert again == made and [c.path.stat().st_mtime_ns for c in again] == stamps  # read, not written again
    assert noisy.copies(clips, noise, 2, (-3.0, 3.0), seed=1) != made
    assert noisy.copies(clips, [], 2, (-3.0, 3.0), seed=0) == [] and noisy.copies(clips, noise, 0, (0, 0), 0) == []


def test_training_takes_the_clean_machine_clips_and_the_noisy_copies(data_2025, tmp_path):
    plain = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    both = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1, "training.supplemental_machine": True,
                                                        "training.noise_copies": 2})
    assert both.fingerprint() == plain.fingerprint()  # what differs is the training clips: in the training's own
    summary = pipeline.train_all(both, data_2025, tmp_path, "fan", live=False, progress=False)
    assert summary["clips"].iloc[0] == (5 + 2) * (1 + 2)  # training and clean machine clips, each with 2 copies
    listed = pipeline.load_detector(both, "fan", tmp_path).training_clips("fan")
    assert sum(c.path.parent.name == layout.SUPPLEMENTAL and c.path.is_relative_to(data_2025) for c in listed) == 2
    assert [c.domain for c in listed] == sorted(c.domain for c in listed)  # in clip order: a copy beside its clip
    scores, tables = pipeline.test_all(both, data_2025, tmp_path, "fan", progress=False)
    assert scores["score"].map(np.isfinite).all() and len(scores) == 8


def test_a_type_without_supplemental_clips_trains_on_its_own_and_says_so(tiny_data, tmp_path):
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1, "training.supplemental_machine": True,
                                                       "training.noise_copies": 1})
    summary = pipeline.train_all(sol, tiny_data, tmp_path, "fan", live=False, progress=False)
    assert summary["clips"].iloc[0] == len(layout.list_clips(tiny_data, "fan", "train"))
    folder = tiny_data / "fan" / layout.SUPPLEMENTAL
    assert skiplog.notices() == [f"fan: no supplemental machine clip in {folder}: no clean machine clips added",
                                 f"fan: no supplemental noise clip in {folder}: no noisy copies made"]


@pytest.mark.parametrize("setting, value, message", [
    ("training.noise_snr_db", [5, -5], "must be two numbers [lowest, highest] in dB, e.g. [-5, 5], got [5, -5]"),
    ("training.noise_snr_db", [0], "got [0]"),
    ("training.noise_copies", -1, "'training.noise_copies' must be an integer ≥ 0, got -1"),
])
def test_bad_supplemental_settings_are_refused(setting, value, message):
    with pytest.raises(ConfigError) as refused:
        solution.load(paths.NOTEBOOKS / "pytorch", {setting: value})
    assert message in str(refused.value)


def test_the_data_overview_shows_the_supplemental_spectra(data_2025, tmp_path):
    from tests.test_notebooks import CELL_TIMEOUT, images

    output = runner.execute_notebook(paths.NOTEBOOKS / "00-data-eda.ipynb", tmp_path / "eda.ipynb",
                                     {"DATA_DIR": str(data_2025), "CLIPS_PER_LABEL": 2, "AUDIO_PLAYERS": 0},
                                     timeout=CELL_TIMEOUT)
    cells = nbformat.read(output, as_version=4).cells
    shown = next(i for i, c in enumerate(cells) if c.cell_type == "code" and "supplemental_spectra" in c.source)
    assert images(output)[[i for i, c in enumerate(cells) if c.cell_type == "code"].index(shown)] == 1
    spectra = overview.supplemental_spectra(data_2025, catalog.file_table(data_2025), "fan", 2)
    assert list(spectra) == ["training clips", "clean machine", "noise"]
    assert all(s.shape == (128,) and np.isfinite(s).all() for s in spectra.values())
