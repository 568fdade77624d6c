import numpy as np
import pandas as pd
import pytest

from helpers.data import realism
from helpers.execution import cli
from tests.conftest import REAL_SAMPLES


def _clip(unit: str, label: str, spectrum) -> dict:
    return {"machine_type": "fan", "section": unit, "label": label, "spectrum": np.asarray(spectrum, dtype=float)}


def test_figures_are_pair_distances_known_by_construction():
    """Two units 3 apart (first axis); each has two normal clips 2 apart (second axis) and one anomalous
    clip 4 off its first normal clip (third axis): every pair distance is known."""
    clips = []
    for unit, offset in (("00", 0.0), ("01", 3.0)):
        clips += [_clip(unit, "normal", [offset, 1.0, 0.0]), _clip(unit, "normal", [offset, -1.0, 0.0]),
                  _clip(unit, "anomaly", [offset, 1.0, 4.0])]
    figures = realism.separation(pd.DataFrame(clips)).loc["fan"]
    assert figures["units"] == 2
    assert figures["within"] == pytest.approx(2.0)
    assert figures["between"] == pytest.approx((3.0 + np.hypot(3.0, 2.0)) / 2)  # same side 3, opposite sides √13
    assert figures["anomaly"] == pytest.approx((4.0 + np.hypot(4.0, 2.0)) / 2)
    assert figures["between/within"] == pytest.approx(figures["between"] / 2.0)


def test_one_unit_has_no_between_and_takes_the_reference_beside_real_clips():
    clips = pd.DataFrame([_clip("00", "normal", [0.0, 1.0]), _clip("00", "normal", [0.0, -1.0]),
                          _clip("00", "anomaly", [0.0, 3.0])])
    assert np.isnan(realism.separation(clips).loc["fan", "between/within"])
    stats = {name: 1.0 for name in realism.CLIP_STATS}
    table = realism.compare(clips.assign(**stats), clips.assign(**stats))
    assert table.loc["fan", ("between/within", "real")] == realism.REAL_BETWEEN_WITHIN
    assert table.loc["fan", ("anomaly/within", "real")] == table.loc["fan", ("anomaly/within", "synthetic")] == 1.5
    assert realism.departures(table) == []  # the synthetic side's between/within is NaN: nothing to hold it to


@pytest.mark.skipif(not REAL_SAMPLES.is_dir(), reason="real samples not present")
def test_generator_lies_within_a_factor_of_two_of_the_real_samples():
    """Per machine type, units as far apart as real units, faults moving a clip as far as real ones do
    (against the real samples' own figures), level and spectrum as the real clips'."""
    real = realism.folder_clips(REAL_SAMPLES)
    table = realism.compare(realism.synthetic_clips(seed=0, clips_per_label=3), real)  # as many as the real samples
    assert set(table.index) == {"ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve"}
    measured = table[("anomaly/within", "real")].dropna()
    assert set(measured.index) == set(real["machine_type"]) and len(measured) == 5  # from the real clips
    assert (table[("units", "synthetic")] >= 3).all()
    assert realism.departures(table) == []


def test_check_realism_prints_the_figures_and_names_a_missing_folder(tiny_data, capsys):
    assert cli.main(["synth", "--check-realism", "--out", str(tiny_data), "--real", str(tiny_data)]) == 0
    out = capsys.readouterr().out
    assert "between/within" in out and "anomaly/within" in out and "centroid_hz" in out
    assert all(machine_type in out for machine_type in ("ToyCar", "fan", "valve"))
    assert "lies within a factor of 2" in out  # a folder against itself: every ratio 1
    assert cli.main(["synth", "--check-realism", "--out", str(tiny_data / "nowhere")]) == 2
    assert "--out" in capsys.readouterr().err
