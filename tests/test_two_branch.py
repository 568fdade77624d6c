"""The two-branch network's pieces: the whole-clip spectrum, the input kind that appends it to a
log-mel segment, feature exchange, and the solution's contract (two_branch_all_types)."""
import numpy as np
import pytest
import torch

from helpers import paths
from helpers.data import featurecache, layout
from helpers.data.audio import read_audio
from helpers.data.features import FeatureSettings, clip_spectrum
from helpers.detectors import inputs, solution, torch_training
from helpers.errors import ConfigError

SOLUTION = paths.NOTEBOOKS / "two_branch_all_types"
SETTINGS = {"segment_frames": 8, "segment_step": 4, "crops_per_clip": 2, "spectrum_bins": 64}


def test_a_tones_spectrum_peaks_in_its_band_and_the_bands_are_means_of_fft_magnitudes():
    rate, seconds = 16_000, 2.0
    t = np.arange(int(rate * seconds)) / rate
    spectrum = clip_spectrum(np.sin(2 * np.pi * 1000.0 * t), 64)
    assert spectrum.shape == (1, 64) and spectrum.dtype == np.float32
    assert spectrum[0].argmax() == int(1000.0 / (rate / 2 / 64))  # 125 Hz bands: 1 kHz in band 8
    y = np.random.default_rng(0).normal(size=1000)
    magnitude = np.abs(np.fft.rfft(y))  # 501 bins in 8 bands: band b holds bins [b * 501 // 8, (b + 1) * 501 // 8)
    edges = [b * 501 // 8 for b in range(9)]
    expected = [20 * np.log10(magnitude[a:b].mean()) for a, b in zip(edges, edges[1:])]
    np.testing.assert_allclose(clip_spectrum(y, 8)[0], expected, rtol=1e-5)
    assert clip_spectrum(y[:11], 8).shape == (1, 8)  # fewer FFT bins than bands: each band still has a value


def test_spectra_are_cached_beside_the_log_mels_under_their_own_key(tiny_data, tmp_path, monkeypatch):
    paths_ = [c.path for c in layout.list_clips(tiny_data, "fan", "train")[:2]]
    first = featurecache.spectra(paths_, FeatureSettings(), 64, cache_dir=tmp_path, progress=False)
    computed = []
    compute = featurecache._compute
    monkeypatch.setattr(featurecache, "_compute", lambda job: computed.append(job[0]) or compute(job))
    again = featurecache.spectra(paths_, FeatureSettings(), 64, cache_dir=tmp_path, progress=False)
    mels = featurecache.log_mels(paths_, FeatureSettings(), cache_dir=tmp_path, progress=False, workers=1)
    assert computed == [str(p) for p in paths_]  # the spectra came from the cache, the log-mels were computed
    y, _ = read_audio(paths_[0], 16_000)
    np.testing.assert_array_equal(again[str(paths_[0])], clip_spectrum(y, 64))
    assert np.array_equal(first[str(paths_[0])], again[str(paths_[0])]) and mels[str(paths_[0])].shape[0] == 128


def test_segments_carry_their_clips_spectrum_in_their_last_columns(tiny_data):
    clips = layout.list_clips(tiny_data, "fan", "train")[:2]
    features = FeatureSettings(n_mels=16)
    mels = list(featurecache.log_mels([c.path for c in clips], features, progress=False).values())
    items = inputs.kind("segments_spectrum").build(mels, SETTINGS, features, False, 0, None, clips)
    spectra = featurecache.spectra([c.path for c in clips], features, 64, progress=False)
    batch = items.batch(np.arange(len(items)))
    assert batch.shape == (len(items), 16, 8 + 4)
    assert inputs.kind("segments_spectrum").input_shape(SETTINGS, features) == (16, 12)
    for row, (clip, start) in zip(batch, zip(items.clip_of, items.positions())):
        np.testing.assert_array_equal(row[:, :8], mels[clip][:, start:start + 8])
        np.testing.assert_array_equal(row[:, 8:].reshape(-1), spectra[str(clips[clip].path)][0])
    with pytest.raises(ConfigError, match=r"spectrum_bins.*multiple of features.n_mels.*e.g. 64"):
        inputs.kind("segments_spectrum").input_shape({**SETTINGS, "spectrum_bins": 70}, features)


def test_feature_exchange_keeps_the_first_part_and_labels_an_exchanged_item_by_both_classes():
    model = solution.load(SOLUTION).model_module
    first, second = torch.arange(8.0).view(4, 2), 10 + torch.arange(8.0).view(4, 2)
    soft = torch.eye(3)[[0, 1, 2, 0]]
    torch.manual_seed(3)
    exchanged, labels = model.feature_exchange(first, second, soft)
    torch.manual_seed(3)
    partner, swapped = torch.randperm(4), torch.rand(4) < 0.5
    assert swapped.any() and not swapped.all()  # this seed exchanges some items and keeps others
    assert torch.equal(exchanged[:, :2], first)
    for i in range(4):
        own, other = soft[i].argmax(), soft[partner[i]].argmax()
        expected = torch.zeros(9)
        if swapped[i]:
            assert torch.equal(exchanged[i, 2:], second[partner[i]])
            expected[3 + own] += 0.5
            expected[6 + other] += 0.5
        else:
            assert torch.equal(exchanged[i, 2:], second[i])
            expected[own] = 1.0
        assert torch.equal(labels[i], expected)


def test_the_two_branch_network_keeps_the_classifier_contract():
    sol = solution.load(SOLUTION, {"inputs.segment_frames": 16, "inputs.spectrum_bins": 1024})
    assert sol.model_arguments(5)["bins"] == 1024 and sol.input_shape() == (128, 16 + 8)
    torch.manual_seed(0)
    net = sol.build_model(5)
    x = torch.randn(6, *sol.input_shape()) * 10 - 40
    target = torch.tensor([0, 1, 2, 3, 4, 0])
    loss, parts = net.train().training_loss(x, target)
    loss.backward()
    assert torch.isfinite(loss) and {"accuracy", "featex"} <= set(parts)
    assert net.eval()(x).shape == (6, 5) and net.embed(x).shape == (6, 256)
    assert torch_training.draws_global_randomness(sol)  # mixup and FeatEx: the trainer seeds torch's generator
    with pytest.raises(ConfigError, match="arcface.*model.mixup"):
        solution.load(SOLUTION, {"model.head": "arcface"}).build_model(5)
    with pytest.raises(ConfigError, match="unknown setting 'bins'"):
        solution.load(SOLUTION, {"model.bins": 64})
