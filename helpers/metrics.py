"""The official figures of each DCASE edition, from clip scores and decisions.

AUC = sklearn roc_auc_score(y_true, score); pAUC = the same with max_fpr=0.1 (McClish
standardised, so a random scorer gives 0.5). Precision, recall and F1 of the 0/1 decisions as
the official evaluators compute them (a zero denominator counts as machine epsilon). Per edition
style (helpers.layout), one row per group:

- ``2020``: per machine ID: AUC, pAUC, precision, recall, F1 score over its test clips.
- ``2021``: per section and domain: the same over that domain's test clips.
- ``2022`` (2022-2026): per section: AUC (source) over the source normals and *all* anomalies,
  AUC (target) likewise, pAUC over every clip of the section, pAUC (source) / pAUC (target) over
  the domain's clips, precision / recall / F1 score per domain over the domain's clips.

The official score of a machine type, and over all types, is the harmonic mean of every AUC and
pAUC the edition ranks by (2021: AUC and pAUC of every section and domain; 2022+: AUC (source),
AUC (target) and pAUC of every section). The 2020 task ranked systems by per-type averages
rather than one figure; its official_score here is the arithmetic mean of every ID's AUC and
pAUC, so that runs of any edition compare by one number. A group whose clips hold only one class
has undefined AUCs, reported as NaN rather than raised; means skip undefined values.

scikit-learn (with SciPy's statistics, about 1.8 s to import) is imported when an AUC is first
computed, so a notebook that only reads result files does not pay for it.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd

MAX_FPR = 0.1
DECISION_METRICS = ("precision", "recall", "F1 score")
COLUMNS = {  # per style: the group columns, then the figures, in the official result files' order
    "2020": (("section",), ("AUC", "pAUC", *DECISION_METRICS)),
    "2021": (("section", "domain"), ("AUC", "pAUC", *DECISION_METRICS)),
    "2022": (("section",), ("AUC (source)", "AUC (target)", "pAUC", "pAUC (source)", "pAUC (target)",
                            *(f"{m} ({d})" for m in DECISION_METRICS for d in ("source", "target")))),
}
RANKED = {"2020": ("AUC", "pAUC"), "2021": ("AUC", "pAUC"), "2022": ("AUC (source)", "AUC (target)", "pAUC")}
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


def _figures(group: pd.DataFrame) -> tuple[float, ...]:
    """AUC, pAUC, precision, recall, F1 of one set of clips [columns label, score, decision]."""
    return (*auc_pauc(group["label"], group["score"]),
            *precision_recall_f1(group["label"], group["decision"] if "decision" in group else [np.nan] * len(group)))


def _counts(group: pd.DataFrame) -> dict:
    return {"n_normal": int((group["label"] == 0).sum()), "n_anomaly": int((group["label"] == 1).sum())}


def _section_2022(group: pd.DataFrame) -> dict:
    row = {"pAUC": auc_pauc(group["label"], group["score"])[1]}
    for domain in ("source", "target"):
        own = group[group["domain"] == domain]
        against_all = group[(group["domain"] == domain) | (group["label"] == 1)]
        row[f"AUC ({domain})"] = auc_pauc(against_all["label"], against_all["score"])[0]
        _, row[f"pAUC ({domain})"], *decided = _figures(own)
        row.update({f"{m} ({domain})": v for m, v in zip(DECISION_METRICS, decided)})
    return row


def group_table(scores: pd.DataFrame, style: str) -> pd.DataFrame:
    """The edition's figures per group of one machine type's labelled test clips.

    `scores`: [columns=section, domain, label (0/1), score, optionally decision (0/1)];
    returns [columns=COLUMNS[style] groups + figures + n_normal, n_anomaly], one row per group in
    sorted order.
    """
    keys, figures = COLUMNS[style]
    rows = []
    for key, group in scores.groupby(list(keys), sort=True):
        row = dict(zip(keys, key))
        if style == "2022":
            row.update(_section_2022(group))
        else:
            row.update(zip(figures, _figures(group)))
        rows.append({**row, **_counts(group)})
    return pd.DataFrame(rows, columns=[*keys, *figures, *COUNTS])


def _hmean(values: np.ndarray) -> float:
    if not len(values):
        return float("nan")
    return float(1.0 / np.mean(1.0 / values)) if np.all(values > 0) else 0.0  # scipy.stats.hmean's formula


def means(table: pd.DataFrame, style: str) -> dict[str, dict[str, float]]:
    """{"arithmetic mean": {figure: value}, "harmonic mean": {...}} over the groups whose value is defined."""
    out = {name: {} for name in MEAN_ROWS}
    for column in COLUMNS[style][1]:
        values = table[column].dropna().to_numpy(dtype=np.float64)
        out["arithmetic mean"][column] = float(values.mean()) if len(values) else float("nan")
        out["harmonic mean"][column] = _hmean(values)
    return out


def ranked_values(table: pd.DataFrame, style: str) -> np.ndarray:
    """Every defined figure the edition ranks by (RANKED), over all groups of `table`. [shape=(values,)]"""
    values = table[list(RANKED[style])].to_numpy(dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def official_score(tables: list[pd.DataFrame], style: str) -> float:
    """The edition's one figure over these group tables (one machine type, or all): the harmonic
    mean of every ranked AUC and pAUC (2020: their arithmetic mean); nan without one defined value."""
    values = np.concatenate([ranked_values(t, style) for t in tables]) if tables else np.array([])
    if not len(values):
        return float("nan")
    return float(values.mean()) if style == "2020" else _hmean(values)


def summary_table(tables: dict[str, pd.DataFrame], style: str) -> pd.DataFrame:
    """Every type's group rows, then its arithmetic and harmonic means and its official score.

    [columns=machine_type, the style's group columns, its figures, official score]; the mean rows
    carry their name in the section column, the official score is on the harmonic-mean row (2020:
    the arithmetic-mean row) and blank elsewhere.
    """
    keys, figures = COLUMNS[style]
    official_row = "arithmetic mean" if style == "2020" else "harmonic mean"
    rows = []
    for machine_type, table in tables.items():
        rows += [{"machine_type": machine_type, **r} for r in table[[*keys, *figures]].to_dict(orient="records")]
        for name, values in means(table, style).items():
            score = official_score([table], style) if name == official_row else float("nan")
            rows.append({"machine_type": machine_type, "section": name, **values, "official score": score})
    return pd.DataFrame(rows, columns=["machine_type", *keys, *figures, "official score"])


def ranked_keys(style: str) -> list[str]:
    """The stable keys (:func:`metric_key`) of the figures the style ranks by."""
    return [metric_key(c) for c in RANKED[style]]


def metric_key(column: str) -> str:
    """A figure's stable key for scripts: "AUC (source)" -> "auc_source", "F1 score" -> "f1", "pAUC" -> "pauc"."""
    name, _, domain = column.partition(" (")
    name = {"F1 score": "f1"}.get(name, name).lower()
    return f"{name}_{domain.rstrip(')')}" if domain else name
