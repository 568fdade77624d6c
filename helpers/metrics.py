"""The generic figures of a set of clips, from clip scores and decisions, and their means.

AUC = sklearn roc_auc_score(y_true, score); pAUC = the same with max_fpr=0.1 (McClish
standardised, so a random scorer gives 0.5). Precision, recall and F1 of the 0/1 decisions as
the official evaluators compute them (a zero denominator counts as machine epsilon). Which clips
form a group, which figures each edition reports and how its official score is made are the
edition's rules (helpers.data.editions). A set of clips holding only one class has undefined AUCs,
reported as NaN rather than raised; means skip undefined values.

scikit-learn (with SciPy's statistics, about 1.8 s to import) is imported when an AUC is first
computed, so a notebook that only reads result files does not pay for it.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd

MAX_FPR = 0.1
DECISION_METRICS = ("precision", "recall", "F1 score")
MEAN_ROWS = ("arithmetic mean", "harmonic mean")
COUNTS = ("n_normal", "n_anomaly")


def auc_pauc(labels, scores, max_fpr: float = MAX_FPR) -> tuple[float, float]:
    """(AUC, pAUC) of anomaly scores against 0/1 labels; (nan, nan) when only one class is present."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if len(np.unique(labels)) < 2 or not np.all(np.isfinite(scores)):
        return float("nan"), float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)), float(roc_auc_score(labels, scores, max_fpr=max_fpr))


def precision_recall_f1(labels, decisions) -> tuple[float, float, float]:
    """Precision, recall and F1 of 0/1 decisions (1 = anomalous) against 0/1 labels, as the official
    evaluators compute them (tp / max(tp + fp, eps), ...); nan for every figure without decisions."""
    labels, decisions = np.asarray(labels), np.asarray(decisions)
    if len(labels) == 0 or pd.isna(decisions).any():
        return float("nan"), float("nan"), float("nan")
    decisions = decisions.astype(int)
    tp = int(np.sum((decisions == 1) & (labels == 1)))
    fp = int(np.sum((decisions == 1) & (labels == 0)))
    fn = int(np.sum((decisions == 0) & (labels == 1)))
    eps = sys.float_info.epsilon
    precision, recall = tp / max(tp + fp, eps), tp / max(tp + fn, eps)
    return precision, recall, 2.0 * precision * recall / max(precision + recall, eps)


def figures(group: pd.DataFrame) -> tuple[float, ...]:
    """AUC, pAUC, precision, recall, F1 of one set of clips [columns label, score, optionally decision]."""
    return (*auc_pauc(group["label"], group["score"]),
            *precision_recall_f1(group["label"], group["decision"] if "decision" in group else [np.nan] * len(group)))


def _sorted_auc_pauc(labels: np.ndarray, scores: np.ndarray, max_fpr: float = MAX_FPR) -> tuple[float, float]:
    """:func:`auc_pauc` of clips already sorted by descending score [shape=(n,) each]: the ROC
    points at each distinct score, the area under them, and the McClish-standardised area up to
    `max_fpr` with the last segment interpolated, as sklearn's roc_auc_score computes them."""
    ends = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # the last clip of each distinct score
    true_positives = np.cumsum(labels)[ends]
    false_positives = ends + 1 - true_positives
    if true_positives[-1] == 0 or false_positives[-1] == 0:
        return float("nan"), float("nan")
    tpr = np.r_[0.0, true_positives / true_positives[-1]]
    fpr = np.r_[0.0, false_positives / false_positives[-1]]
    stop = np.searchsorted(fpr, max_fpr, side="right")
    partial_tpr = np.r_[tpr[:stop], np.interp(max_fpr, fpr[stop - 1:stop + 1], tpr[stop - 1:stop + 1])]
    partial = np.trapezoid(partial_tpr, np.r_[fpr[:stop], max_fpr])
    low = max_fpr**2 / 2
    return float(np.trapezoid(tpr, fpr)), float(0.5 * (1 + (partial - low) / (max_fpr - low)))


def auc_pauc_ci95(labels, scores, confidence: float = 0.95) -> tuple[float, float]:
    """The half-widths of the `confidence` intervals of the AUC and the pAUC of these clips, as the
    official 2023-2025 evaluators compute them (a jackknife, after Mesaros et al. 2019, sec. IV):
    the n leave-one-out values theta_i, sigma = sqrt(sum (theta_i - mean theta_i)^2 / (n (n - 1))),
    half-width = Student's t quantile with n - 1 degrees of freedom times sigma. That sigma is the
    evaluators'; the textbook jackknife's is n - 1 times wider. nan where a leave-one-out set lacks
    a class, or n < 3.

    The n leave-one-out figures come from one sort (:func:`_sorted_auc_pauc`, checked against
    sklearn in the tests), not from n calls of sklearn: 1,400 clips take well under a second instead of about ten."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    n = len(labels)
    if n < 3 or not np.all(np.isfinite(scores)):
        return float("nan"), float("nan")
    from scipy.stats import t

    order = np.argsort(-scores, kind="stable")
    labels, scores = labels[order].astype(np.int64), scores[order]
    left_out = np.array([_sorted_auc_pauc(np.delete(labels, i), np.delete(scores, i)) for i in range(n)])
    sigma = np.sqrt(np.sum((left_out - left_out.mean(axis=0)) ** 2, axis=0) / (n * (n - 1)))
    auc, pauc = abs(t.ppf((1 - confidence) / 2, n - 1)) * sigma
    return float(auc), float(pauc)


def counts(group: pd.DataFrame) -> dict[str, int]:
    """{n_normal, n_anomaly}: the clips of each label in one set [column label]."""
    return {"n_normal": int((group["label"] == 0).sum()), "n_anomaly": int((group["label"] == 1).sum())}


def arithmetic_mean(values: np.ndarray) -> float:
    """The mean of `values` [shape=(n,)]; nan for none."""
    return float(values.mean()) if len(values) else float("nan")


def harmonic_mean(values: np.ndarray) -> float:
    """The harmonic mean of `values` [shape=(n,)] (scipy.stats.hmean's formula); 0 if one is not positive, nan for none."""
    if not len(values):
        return float("nan")
    return float(1.0 / np.mean(1.0 / values)) if np.all(values > 0) else 0.0


MEANS = {"arithmetic mean": arithmetic_mean, "harmonic mean": harmonic_mean}  # the mean rows, in MEAN_ROWS order


def means(table: pd.DataFrame, columns) -> dict[str, dict[str, float]]:
    """{"arithmetic mean": {column: value}, "harmonic mean": {...}} of each of `columns` over the rows where it is defined."""
    out = {name: {} for name in MEAN_ROWS}
    for column in columns:
        values = table[column].dropna().to_numpy(dtype=np.float64)
        for name in MEAN_ROWS:
            out[name][column] = MEANS[name](values)
    return out


def metric_key(column: str) -> str:
    """A figure's stable key for scripts: "AUC (source)" -> "auc_source", "F1 score" -> "f1", "pAUC" -> "pauc"."""
    name, _, domain = column.partition(" (")
    name = {"F1 score": "f1"}.get(name, name).lower()
    return f"{name}_{domain.rstrip(')')}" if domain else name
