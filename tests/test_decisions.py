import math

import numpy as np
import pytest
import scipy.stats

from helpers.detectors import decisions
from helpers.errors import ToolkitError


def test_threshold_is_the_fitted_gamma_quantile():
    scores = scipy.stats.gamma.rvs(2.0, loc=1.0, scale=0.5, size=4000, random_state=np.random.default_rng(0))
    fitted = decisions.fit(scores, 0.9)
    assert fitted.threshold == pytest.approx(scipy.stats.gamma.ppf(0.9, fitted.shape, loc=fitted.loc, scale=fitted.scale))
    # the fit recovers the distribution: its 90 % point is near the true one, and near the sample's
    assert fitted.threshold == pytest.approx(scipy.stats.gamma.ppf(0.9, 2.0, loc=1.0, scale=0.5), rel=0.05)
    assert fitted.threshold == pytest.approx(np.quantile(scores, 0.9), rel=0.05)
    assert decisions.fit(scores, 0.5).threshold < fitted.threshold < decisions.fit(scores, 0.99).threshold


def test_degenerate_scores_fall_back_to_the_empirical_quantile():
    constant = decisions.fit([2.0] * 10, 0.9)
    assert constant.threshold == 2.0 and math.isnan(constant.shape)
    assert decisions.fit([1.0, 3.0], 0.5).threshold == 2.0  # too few clips to fit
    empty = decisions.fit([np.nan], 0.9)
    assert math.isnan(empty.threshold) and empty.clips == 0


def test_each_group_decides_by_its_own_threshold_and_unknown_groups_by_all():
    rng = np.random.default_rng(1)
    scores = np.r_[rng.uniform(0, 1, 200), rng.uniform(10, 11, 200)]
    groups = ["00"] * 200 + ["01"] * 200
    thresholds = decisions.fit_groups(scores, groups, 0.9)
    assert set(thresholds) == {"00", "01", decisions.ALL}
    assert thresholds["00"].threshold < 1.2 and 10 < thresholds["01"].threshold < 11.2
    decided = decisions.decide([5.0, 5.0, 5.0, np.nan], ["00", "01", "02", "00"], thresholds)
    assert decided.tolist() == [1, 0, int(5.0 > thresholds[decisions.ALL].threshold), 0]


def test_thresholds_round_trip_and_a_broken_file_names_itself(tmp_path):
    thresholds = decisions.fit_groups([1.0, 2.0, 3.0, 4.0], ["00", "00", "01", "01"], 0.9)
    path = decisions.save(thresholds, tmp_path / "threshold_fan.json", "abc", 0.9)
    loaded, fingerprint, quantile = decisions.load(path)
    assert ({g: t.threshold for g, t in loaded.items()}, fingerprint, quantile) == \
        ({g: t.threshold for g, t in thresholds.items()}, "abc", 0.9)
    assert [t.clips for t in loaded.values()] == [2, 2, 4]
    path.write_text("{not json")
    with pytest.raises(ToolkitError, match="threshold_fan.json"):
        decisions.load(path)
