import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from helpers.metrics import auc_pauc, means, per_id_table


def test_auc_and_pauc_match_sklearn_with_mcclish():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(100), np.ones(80)]
    scores = rng.normal(size=180) + labels
    auc, pauc = auc_pauc(labels, scores)
    assert auc == pytest.approx(roc_auc_score(labels, scores))
    assert pauc == pytest.approx(roc_auc_score(labels, scores, max_fpr=0.1))
    assert auc_pauc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == (1.0, 1.0)


def test_random_scorer_pauc_is_about_half():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 20_000)
    _, pauc = auc_pauc(labels, rng.normal(size=20_000))
    assert pauc == pytest.approx(0.5, abs=0.03)


def test_single_class_id_is_undefined_not_a_crash():
    table = per_id_table(pd.DataFrame({
        "section": ["00"] * 4 + ["02"] * 3,
        "label": [0, 0, 1, 1, 0, 0, 0],
        "score": [0.1, 0.2, 0.9, 0.8, 0.3, 0.2, 0.1],
    }))
    assert table["id"].tolist() == ["00", "02"]
    assert table.loc[0, "AUC"] == 1.0 and math.isnan(table.loc[1, "AUC"])
    assert table.loc[1, "n_normal"] == 3 and table.loc[1, "n_anomaly"] == 0
    assert means(table)["AUC_mean"] == 1.0


def test_arithmetic_and_harmonic_means():
    table = pd.DataFrame({"id": ["a", "b"], "AUC": [0.5, 1.0], "pAUC": [0.6, 0.6]})
    result = means(table)
    assert result["AUC_mean"] == pytest.approx(0.75)
    assert result["AUC_hmean"] == pytest.approx(2 / (1 / 0.5 + 1 / 1.0))
    assert result["pAUC_hmean"] == pytest.approx(0.6)
