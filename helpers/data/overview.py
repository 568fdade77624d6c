"""Summaries of a dataset for the data-overview notebook: spectra, durations, example clips and
the real-against-synthetic comparison. Everything here reads the file table of helpers.data.catalog
(and, for DCASE 2025's supplemental clips, the folder itself).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers import skiplog
from helpers.data import catalog, clipstats, layout
from helpers.data.audio import load_audio
from helpers.errors import ClipError
from helpers.data.features import FeatureSettings, log_mel
from helpers.data.layout import SAMPLE_RATE


def durations(table: pd.DataFrame) -> pd.DataFrame:
    """Clip length and format per machine type and split. [columns=machine_type, split, clips, seconds_min, seconds_max, sample_rates, channels]"""
    grouped = table.groupby(["machine_type", "split"], sort=False)
    return pd.DataFrame({
        "clips": grouped.size(),
        "seconds_min": grouped["seconds"].min(),
        "seconds_max": grouped["seconds"].max(),
        "sample_rates": grouped["sample_rate"].agg(lambda s: ", ".join(map(str, sorted(set(s))))),
        "channels": grouped["channels"].agg(lambda s: ", ".join(map(str, sorted(set(s))))),
    }).reset_index()


def pick_clips(table: pd.DataFrame, machine_type: str, label: str, count: int, split: str = "test",
               seed: int = 0, domain: str | None = None) -> pd.DataFrame:
    """`count` clips of one type and label (and `domain`, if given), chosen reproducibly and spread over the sections."""
    rows = table[(table["machine_type"] == machine_type) & (table["split"] == split) & (table["label"] == label)]
    if domain is not None:
        rows = rows[rows["domain"] == domain]
    if rows.empty:
        return rows
    shuffled = rows.sample(frac=1.0, random_state=seed)
    shuffled = shuffled.assign(_rank=shuffled.groupby("section").cumcount())
    return shuffled.sort_values(["_rank", "section"]).head(count).drop(columns="_rank")


def clip_log_mel(path: str | Path, settings: FeatureSettings = FeatureSettings()) -> np.ndarray | None:
    """The log-mel of one clip [shape=(n_mels, frames)], or None (recorded as skipped) if unreadable."""
    try:
        return log_mel(load_audio(path, settings.sample_rate, settings.channel), settings)
    except ClipError as err:
        skiplog.skip_clip(err)
        return None


def mean_spectra(table: pd.DataFrame, machine_type: str, clips_per_label: int = 20,
                 settings: FeatureSettings = FeatureSettings(), by: str = "label") -> dict[str, np.ndarray]:
    """Mean log-mel spectrum over time and clips {group: [shape=(n_mels,)]}: per test label
    (`by` "label": normal, anomaly), or per domain of the normal training clips (`by` "domain":
    source, target; the domain shift a model has to live with)."""
    groups = {"label": [(label, dict(label=label)) for label in ("normal", "anomaly")],
              "domain": [(domain, dict(label="normal", split="train", domain=domain)) for domain in ("source", "target")]}
    spectra = {}
    for name, choice in groups[by]:
        chosen = pick_clips(table, machine_type, count=clips_per_label, **choice)
        means = [m.mean(axis=1) for m in map(lambda p: clip_log_mel(p, settings), chosen["path"]) if m is not None]
        if means:
            spectra[name] = np.mean(means, axis=0)
    return spectra


def supplemental_spectra(root: str | Path, table: pd.DataFrame, machine_type: str, clips_per_kind: int = 20,
                         settings: FeatureSettings = FeatureSettings()) -> dict[str, np.ndarray]:
    """Mean log-mel spectrum over time and clips of a type's source-domain training clips and of each
    kind of its supplemental clips (DCASE 2025: clean machine sound, noise alone), {"training clips",
    "clean machine", "noise": [shape=(n_mels,)]}; only the training clips' where it has none."""
    spectra = mean_spectra(table, machine_type, clips_per_kind, settings, by="domain")
    spectra = {"training clips": spectra["source"]} if "source" in spectra else {}
    for kind, name in (("machine", "clean machine"), ("noise", "noise")):
        clips = layout.supplemental_clips(root, machine_type, kind)[:clips_per_kind]
        means = [m.mean(axis=1) for m in (clip_log_mel(c.path, settings) for c in clips) if m is not None]
        if means:
            spectra[name] = np.mean(means, axis=0)
    return spectra


def real_against_synthetic(real_root: str | Path, synthetic: pd.DataFrame, clips_per_type: int = 6) -> pd.DataFrame:
    """Clip statistics of the real samples and of as many synthetic test clips per type.

    Returns one row per clip: source (real/synthetic), machine_type, label, path and the
    statistics of helpers.data.clipstats.
    """
    real = catalog.file_table(real_root, cache_dir=None)
    frames = []
    for source, table in (("real", real), ("synthetic", synthetic)):
        for machine_type in real["machine_type"].unique():
            half = clips_per_type // 2
            chosen = pd.concat([pick_clips(table, machine_type, "normal", half),
                                pick_clips(table, machine_type, "anomaly", clips_per_type - half)])
            stats = clipstats.stats_table(list(chosen["path"]), SAMPLE_RATE)
            if not stats.empty:
                frames.append(chosen[["machine_type", "label", "path"]].assign(source=source).merge(stats, on="path"))
    columns = ["source", "machine_type", "label", "path"]
    if not frames:
        return pd.DataFrame(columns=columns)
    stats = pd.concat(frames, ignore_index=True)
    return stats[columns + [c for c in stats.columns if c not in columns]]
