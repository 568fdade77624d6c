"""The official figures of each edition, against examples worked out by hand.

The example section: source normals score 1 and 2, target normals 5 and 6, one source anomaly
scores 3 and one target anomaly 7 (2022 rules) or 5.5 (2021 rules, where each domain is ranked
on its own). With four normals the ROC's FPR moves in steps of 0.25, so below FPR 0.1 the TPR is
that of the anomalies above every normal: pAUC = McClish(0.1 * TPR).
"""
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from helpers import metrics
from helpers.data.editions import RULES_2020, RULES_2021, RULES_2022
from helpers.metrics import auc_pauc, means, precision_recall_f1


def mcclish(area: float, max_fpr: float = 0.1) -> float:
    low, high = max_fpr**2 / 2, max_fpr
    return 0.5 * (1 + (area - low) / (high - low))


def example(target_anomaly: float) -> pd.DataFrame:
    return pd.DataFrame({
        "section": "00",
        "domain": ["source", "source", "target", "target", "source", "target"],
        "label": [0, 0, 0, 0, 1, 1],
        "score": [1.0, 2.0, 5.0, 6.0, 3.0, target_anomaly],
        "decision": [0, 1, 0, 0, 1, 0],
    })


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


def test_precision_recall_f1_as_the_evaluators_count():
    assert precision_recall_f1([0, 0, 1], [0, 1, 1]) == pytest.approx((0.5, 1.0, 2 / 3))
    assert precision_recall_f1([0, 1], [0, 0]) == (0.0, 0.0, 0.0)  # no positive decision: 0, not a division error
    assert all(math.isnan(v) for v in precision_recall_f1([0, 1], [np.nan, np.nan]))


def test_2022_rules_ranks_each_domains_normals_against_every_anomaly():
    row = RULES_2022.group_table(example(7.0)).iloc[0]
    assert row["AUC (source)"] == 1.0  # normals 1, 2 below both anomalies 3 and 7
    assert row["AUC (target)"] == 0.5  # normals 5, 6 against 3 (below both) and 7 (above both)
    assert row["pAUC"] == pytest.approx(mcclish(0.1 * 0.5))  # over all six clips: 7 alone above every normal
    assert row["pAUC (source)"] == pytest.approx(mcclish(0.1 * 1.0))
    assert row["pAUC (target)"] == pytest.approx(mcclish(0.1 * 1.0))
    assert (row["precision (source)"], row["recall (source)"]) == (0.5, 1.0)
    assert row["F1 score (source)"] == pytest.approx(2 / 3)
    assert (row["precision (target)"], row["recall (target)"], row["F1 score (target)"]) == (0.0, 0.0, 0.0)
    assert (row["n_normal"], row["n_anomaly"]) == (4, 2)
    expected = 3 / (1 / 1.0 + 1 / 0.5 + 1 / mcclish(0.05))
    assert RULES_2022.official_score([RULES_2022.group_table(example(7.0))]) == pytest.approx(expected)


def test_2021_rules_ranks_each_domain_on_its_own_clips():
    table = RULES_2021.group_table(example(5.5))
    assert list(zip(table["section"], table["domain"])) == [("00", "source"), ("00", "target")]
    source, target = table.iloc[0], table.iloc[1]
    assert (source["AUC"], source["pAUC"]) == (1.0, 1.0)
    assert target["AUC"] == 0.5  # 5.5 above 5, below 6
    assert target["pAUC"] == pytest.approx(mcclish(0.0))  # the highest target clip is a normal one
    assert (target["precision"], target["recall"]) == (0.0, 0.0)
    expected = 4 / (1 + 1 + 1 / 0.5 + 1 / mcclish(0.0))
    assert RULES_2021.official_score([table]) == pytest.approx(expected)


def test_2020_rules_per_id_and_its_official_score_is_the_arithmetic_mean():
    scores = pd.DataFrame({"section": ["00"] * 4 + ["02"] * 4, "domain": "source",
                           "label": [0, 0, 1, 1] * 2, "score": [0.1, 0.2, 0.8, 0.9, 0.5, 0.9, 0.1, 0.6]})
    table = RULES_2020.group_table(scores)
    assert table["section"].tolist() == ["00", "02"]
    assert table["AUC"].tolist() == [1.0, 0.25]  # 02: only 0.6 > 0.5 of the four pairs
    assert math.isnan(table.loc[0, "precision"])  # no decisions given
    assert RULES_2020.official_score([table]) == pytest.approx(np.mean([1.0, 0.25, *table["pAUC"]]))


def test_single_class_group_is_undefined_not_a_crash():
    table = RULES_2020.group_table(pd.DataFrame({
        "section": ["00"] * 4 + ["02"] * 3, "domain": "source",
        "label": [0, 0, 1, 1, 0, 0, 0], "score": [0.1, 0.2, 0.9, 0.8, 0.3, 0.2, 0.1],
    }))
    assert table.loc[0, "AUC"] == 1.0 and math.isnan(table.loc[1, "AUC"])
    assert table.loc[1, "n_normal"] == 3 and table.loc[1, "n_anomaly"] == 0
    assert means(table, RULES_2020.figures)["arithmetic mean"]["AUC"] == 1.0
    assert RULES_2020.official_score([table]) == 1.0  # the undefined ID is left out


def test_arithmetic_and_harmonic_means():
    table = pd.DataFrame({"section": ["a", "b"], "AUC": [0.5, 1.0], "pAUC": [0.6, 0.6],
                          **{m: [np.nan, np.nan] for m in metrics.DECISION_METRICS}})
    result = means(table, RULES_2020.figures)
    assert result["arithmetic mean"]["AUC"] == pytest.approx(0.75)
    assert result["harmonic mean"]["AUC"] == pytest.approx(2 / (1 / 0.5 + 1 / 1.0))
    assert result["harmonic mean"]["pAUC"] == pytest.approx(0.6)
    assert RULES_2022.official_score([]) != RULES_2022.official_score([])  # nan without values


def test_summary_table_has_mean_rows_and_the_official_score_once_per_type():
    tables = {"fan": RULES_2022.group_table(example(7.0)), "valve": RULES_2022.group_table(example(5.5))}
    summary = RULES_2022.summary_table(tables)
    assert summary["section"].tolist() == ["00", "arithmetic mean", "harmonic mean"] * 2
    official = summary.dropna(subset=["official score"])
    assert official["section"].tolist() == ["harmonic mean"] * 2
    assert official["official score"].iloc[0] == pytest.approx(RULES_2022.official_score([tables["fan"]]))


def test_metric_keys_are_stable():
    assert [metrics.metric_key(c) for c in ("AUC (source)", "pAUC", "F1 score (target)", "precision")] == \
        ["auc_source", "pauc", "f1_target", "precision"]
    assert RULES_2022.ranked_keys == ["auc_source", "auc_target", "pauc"]


# The official 2023-2025 evaluators' extra figures (nttcslab/dcase2023_task2_evaluator and
# dcase2024_task2_evaluator, which compute them alike), on the example sections by hand.

T_975_3 = 3.182446305284263  # Student's t, 97.5 % quantile, 3 degrees of freedom


def test_2022_rules_auc_over_all_of_a_sections_clips():
    row = RULES_2022.group_table(example(7.0)).iloc[0]
    assert row["AUC (all)"] == 0.75  # anomaly 3 above normals 1, 2; anomaly 7 above all four: 6 of 8 pairs
    assert RULES_2022.figures[-1] == "AUC (all)" and "AUC (all)" not in RULES_2022.ranked


def test_evaluator_mean_rows_pool_both_domains():
    tables = {"fan": RULES_2022.group_table(example(7.0)), "valve": RULES_2022.group_table(example(5.5))}
    # AUC (source, target): fan 1.0, 0.5; valve 1.0, 0.25 (5.5 above normal 5 only of the target normals 5, 6)
    rows = RULES_2022.evaluator_means(list(tables.values()))
    assert list(rows) == ["arithmetic mean", "harmonic mean", "source harmonic mean", "target harmonic mean"]
    assert rows["arithmetic mean"]["AUC"] == pytest.approx((1.0 + 0.5 + 1.0 + 0.25) / 4)
    assert rows["harmonic mean"]["AUC"] == pytest.approx(4 / (1 / 1.0 + 1 / 0.5 + 1 / 1.0 + 1 / 0.25))
    assert rows["source harmonic mean"]["AUC"] == 1.0
    assert rows["target harmonic mean"]["AUC"] == pytest.approx(2 / (1 / 0.5 + 1 / 0.25))
    # pAUC: fan's 7 lies above every normal (TPR 1/2 below FPR 0.1); valve's highest clip is its normal 6
    assert rows["harmonic mean"]["pAUC"] == pytest.approx(2 / (1 / mcclish(0.05) + 1 / mcclish(0.0)))
    # decisions 0, 1 on the source normals, 1 on the source anomaly, 0 on the target clips: precision 0.5 and 0
    assert rows["arithmetic mean"]["precision"] == pytest.approx(0.25) and rows["harmonic mean"]["precision"] == 0.0
    assert rows["source harmonic mean"]["recall"] == 1.0
    assert RULES_2021.evaluator_means(list(tables.values())) == {} and RULES_2020.evaluator_rows is False


def test_official_score_ci95_is_the_evaluators_jackknife():
    """Four clips, labels 0, 0, 1, 1, scores 0.1, 0.4, 0.35, 0.8. Leaving out each clip in turn:
    AUC 1/2, 1, 1, 1/2; pAUC (one normal or one anomaly left, FPR steps of 1/2 or 1): McClish(0.05),
    1, 1, McClish(0). Half-width = t(0.975, 3) * sqrt(sum (theta_i - mean)^2 / (4 * 3))."""
    def half_width(values):
        values = np.array(values)
        return T_975_3 * math.sqrt(np.sum((values - values.mean()) ** 2) / 12)

    auc, pauc = metrics.auc_pauc_ci95([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert auc == pytest.approx(half_width([0.5, 1, 1, 0.5]), abs=1e-12)
    assert pauc == pytest.approx(half_width([mcclish(0.05), 1, 1, mcclish(0.0)]), abs=1e-12)
    assert all(math.isnan(v) for v in metrics.auc_pauc_ci95([0, 1, 1], [0.1, 0.2, 0.3]))  # leaving the normal out
    clips = pd.DataFrame({"label": [0, 0, 1, 1], "score": [0.1, 0.4, 0.35, 0.8]})
    tables = {"fan": RULES_2022.group_table(example(7.0))}
    overall = RULES_2022.evaluator_summary(tables, clips)["all"]
    assert overall["official score ci95"] == pytest.approx((auc + pauc) / 2)
    assert overall["official score"] == RULES_2022.official_score(list(tables.values()))
    assert overall["harmonic mean (target)"] == 0.5 and overall["arithmetic mean"] == 0.75


def test_leave_one_out_figures_match_sklearn_with_ties():
    rng = np.random.default_rng(3)
    for n, decimals in ((7, 0), (60, 1), (300, 3)):
        labels = rng.integers(0, 2, n)
        labels[:2] = (0, 1)
        scores = np.round(rng.normal(size=n) + labels, decimals)
        order = np.argsort(-scores, kind="stable")
        assert metrics._sorted_auc_pauc(labels[order], scores[order]) == pytest.approx(auc_pauc(labels, scores), abs=1e-12)
