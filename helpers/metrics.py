"""AUC and pAUC per machine ID, as the DCASE 2020 Task 2 baseline and evaluator compute them.

AUC = sklearn roc_auc_score(y_true, score); pAUC = the same with max_fpr=0.1 (McClish
standardised, so a random scorer gives 0.5). An ID whose test set holds only one class has an
undefined AUC, reported as NaN rather than raised. Means over IDs skip undefined IDs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import hmean
from sklearn.metrics import roc_auc_score

MAX_FPR = 0.1


def auc_pauc(labels, scores, max_fpr: float = MAX_FPR) -> tuple[float, float]:
    """(AUC, pAUC) of anomaly scores against 0/1 labels; (nan, nan) when only one class is present."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if len(np.unique(labels)) < 2 or not np.all(np.isfinite(scores)):
        return float("nan"), float("nan")
    return float(roc_auc_score(labels, scores)), float(roc_auc_score(labels, scores, max_fpr=max_fpr))


def per_id_table(scores: pd.DataFrame) -> pd.DataFrame:
    """AUC and pAUC for each machine ID.

    `scores` has columns section, label (0/1), score; returns columns id, AUC, pAUC,
    n_normal, n_anomaly, one row per ID in sorted order.
    """
    rows = []
    for section, group in scores.groupby("section", sort=True):
        auc, pauc = auc_pauc(group["label"], group["score"])
        rows.append(
            {"id": section, "AUC": auc, "pAUC": pauc,
             "n_normal": int((group["label"] == 0).sum()), "n_anomaly": int((group["label"] == 1).sum())}
        )
    return pd.DataFrame(rows, columns=["id", "AUC", "pAUC", "n_normal", "n_anomaly"])


def means(per_id: pd.DataFrame) -> dict[str, float]:
    """Arithmetic and harmonic means of AUC and pAUC over the IDs whose values are defined."""
    out = {}
    for column in ("AUC", "pAUC"):
        values = per_id[column].dropna().to_numpy(dtype=np.float64)
        out[f"{column}_mean"] = float(values.mean()) if len(values) else float("nan")
        out[f"{column}_hmean"] = float(hmean(values)) if len(values) and np.all(values > 0) else (
            0.0 if len(values) else float("nan"))
    return out


def summary_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every type's per-ID AUC/pAUC followed by its arithmetic ('mean') and harmonic ('hmean') means.

    [columns=machine_type, id, AUC, pAUC]
    """
    rows = []
    for machine_type, table in tables.items():
        rows += [{"machine_type": machine_type, "id": r.id, "AUC": r.AUC, "pAUC": r.pAUC} for r in table.itertuples()]
        average = means(table)
        for kind in ("mean", "hmean"):
            rows.append({"machine_type": machine_type, "id": kind,
                         "AUC": average[f"AUC_{kind}"], "pAUC": average[f"pAUC_{kind}"]})
    return pd.DataFrame(rows, columns=["machine_type", "id", "AUC", "pAUC"])
