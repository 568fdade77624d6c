"""How far apart clips lie, per machine type: within a unit, between units, and anomalous against
normal, on each clip's mean log-mel spectrum; for synthetic data against real recordings.

A clip is summarised by its mean log-mel spectrum over time (128 mels, dB, the baseline's
features). Per machine type, over the normal test clips, on Euclidean distances between spectra:

- within: the mean distance between two normal clips of one unit (a 2020 machine ID, a later
  edition's section);
- between: the mean distance between normal clips of two different units;
- anomaly: the mean distance between an anomalous clip and a normal clip of its own unit.

Distances between pairs of clips, not to a unit's mean: a mean over three clips lies a third of
each clip's way off, so distances to it depend on how many clips there are, and the real samples
have three per unit where a synthetic preset has dozens. A pair's expected distance does not
depend on the count. (On a centroid, with the same clips: within and anomaly shrink, between grows
with few clips; on pairs, units of identical sound give between/within = 1.)

The ratios between/within (how much farther apart units are than two clips of one unit) and
anomaly/within (how far a fault moves a clip, against the clips' own spread) are what tell
methods apart: a classifier of units learns an easy trait where between/within is large, and a
fault that moves the mean spectrum far is found by any method.
"""
from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import skiplog, threads
from helpers.data import catalog, clipstats, synth
from helpers.data.audio import load_audio
from helpers.data.editions import edition
from helpers.data.features import FeatureSettings, log_mel
from helpers.errors import ClipError

# Real units of one type lie about as far apart as two clips of one unit. The real samples hold one
# unit per type, so between/within cannot be measured on them; this is its value on public DCASE 2020
# development clips of two or three IDs of a type (not in the repository), same definitions:
# 1.10 (ToyCar), 1.13 (fan), 0.94 (pump), 0.91 (valve).
REAL_BETWEEN_WITHIN = 1.0

# How near the synthetic figures must lie to the real ones: within this factor for the ratios, and for
# the clip statistics: level and tilt within these differences, centroid and loudness movement within the factor.
FACTOR = 2.0
LEVEL_DB, TILT_DB_PER_OCTAVE = 3.0, 2.0

FIGURES = ["units", "within", "between", "anomaly", "between/within", "anomaly/within", "anomaly/between"]
CLIP_STATS = ["rms_dbfs", "centroid_hz", "tilt_db_per_octave", "level_std_db"]


def mean_spectrum(y: np.ndarray, settings: FeatureSettings = FeatureSettings()) -> np.ndarray:
    """The clip's mean log-mel spectrum in dB. [shape=(n_mels,)]"""
    return log_mel(y, settings).mean(axis=1).astype(np.float64)


def clip_table(y: np.ndarray) -> dict:
    """A clip's mean spectrum and its helpers.data.clipstats figures (level, centroid, tilt, loudness movement)."""
    stats = clipstats.clip_stats(y)
    return {"spectrum": mean_spectrum(y)} | {name: stats[name] for name in CLIP_STATS}


def folder_clips(root: str | Path, split: str = "test") -> pd.DataFrame:
    """clip_table of every readable clip of `split` under a data root, with its machine_type, section,
    label; unreadable clips are skipped and recorded (helpers.skiplog). [one row per clip]"""
    table = catalog.file_table(root, cache_dir=None)
    rows = []
    for row in table[table["split"] == split].itertuples():
        try:
            y = load_audio(row.path)
        except ClipError as err:
            skiplog.skip_clip(err)
            continue
        rows.append({"machine_type": row.machine_type, "section": row.section, "label": row.label} | clip_table(y))
    return pd.DataFrame(rows, columns=["machine_type", "section", "label", "spectrum", *CLIP_STATS])


def _mean_distance(pairs) -> float:
    distances = [float(np.linalg.norm(a - b)) for a, b in pairs]
    return float(np.mean(distances)) if distances else float("nan")


def separation(clips: pd.DataFrame) -> pd.DataFrame:
    """The figures of the module docstring per machine type, from clips with machine_type, section,
    label and spectrum. [index=machine_type, columns=FIGURES] (between: NaN with one unit; anomaly:
    NaN without anomalous clips)"""
    rows = {}
    for machine_type, clips_of_type in clips.groupby("machine_type", sort=True):
        normal = {section: list(group["spectrum"])
                  for section, group in clips_of_type[clips_of_type["label"] == "normal"].groupby("section")}
        anomalous = {section: list(group["spectrum"])
                     for section, group in clips_of_type[clips_of_type["label"] == "anomaly"].groupby("section")}
        within = _mean_distance(pair for spectra in normal.values() for pair in itertools.combinations(spectra, 2))
        between = _mean_distance((a, b) for first, second in itertools.combinations(normal.values(), 2)
                                 for a in first for b in second)
        anomaly = _mean_distance((a, b) for section, spectra in anomalous.items()
                                 for a in spectra for b in normal.get(section, []))
        rows[machine_type] = {"units": len(normal), "within": within, "between": between, "anomaly": anomaly,
                              "between/within": between / within, "anomaly/within": anomaly / within,
                              "anomaly/between": anomaly / between}
    return pd.DataFrame.from_dict(rows, orient="index", columns=FIGURES)


def clip_stat_means(clips: pd.DataFrame) -> pd.DataFrame:
    """The mean of each clip statistic (CLIP_STATS) over the normal clips of each machine type. [index=machine_type]"""
    return clips[clips["label"] == "normal"].groupby("machine_type")[CLIP_STATS].mean()


def compare(synthetic: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """The figures (separation) and clip statistics (clip_stat_means) of synthetic and real clips side by
    side, per synthetic machine type; where the real clips have fewer than two units of a type (or
    none), its between/within is REAL_BETWEEN_WITHIN (and anomaly/between follows from it).
    [index=machine_type, columns=(figure, "synthetic" | "real")]"""
    sides = {"synthetic": synthetic, "real": real}
    tables = {name: separation(clips).join(clip_stat_means(clips)) for name, clips in sides.items()}
    types = tables["synthetic"].index
    tables["real"] = tables["real"].reindex(types)
    one_unit = tables["real"]["units"].fillna(0) < 2
    tables["real"].loc[one_unit, "between/within"] = REAL_BETWEEN_WITHIN
    tables["real"].loc[one_unit, "anomaly/between"] = tables["real"].loc[one_unit, "anomaly/within"] / REAL_BETWEEN_WITHIN
    joined = pd.concat(tables, axis=1)
    return joined.swaplevel(axis=1)[[(figure, name) for figure in FIGURES + CLIP_STATS for name in sides]]


def _synthetic_row(job: tuple) -> dict:
    seed, year, machine_type, section, label, index = job
    kind = "normal" if label == "normal" else "anomaly"
    y = synth.synthesize(seed, machine_type, section, kind, index, year=year)
    return {"machine_type": machine_type, "section": section, "label": label} | clip_table(y)


def synthetic_clips(seed: int = 0, types=None, clips_per_label: int = 8, year: int = 2020,
                    workers: int | None = None) -> pd.DataFrame:
    """Test clips of every development unit of `types` (default: all of the edition's), made in memory
    by the generator (the same clips as its files), `clips_per_label` normal and anomalous ones of
    each unit (source domain), as folder_clips returns them."""
    ed = edition(year)
    jobs = [(seed, ed.year, machine_type, section, label, index)
            for machine_type in (types or ed.dev_types) for section in ed.dev_sections[machine_type]
            for label in ("normal", "anomaly") for index in range(clips_per_label)]
    with ProcessPoolExecutor(max(1, workers or threads.cores())) as pool:
        rows = list(pool.map(_synthetic_row, jobs, chunksize=4))
    return pd.DataFrame(rows, columns=["machine_type", "section", "label", "spectrum", *CLIP_STATS])


def departures(table: pd.DataFrame) -> list[str]:
    """The figures of a compare() table that lie too far from the real ones (FACTOR for the ratios, the
    centroid and the loudness movement; LEVEL_DB and TILT_DB_PER_OCTAVE for level and tilt), one line each;
    a figure that one side cannot give (NaN: one unit, no anomalous clips) is not held."""
    limits = {"between/within": FACTOR, "anomaly/within": FACTOR, "anomaly/between": FACTOR,
              "centroid_hz": FACTOR, "level_std_db": FACTOR}
    steps = {"rms_dbfs": LEVEL_DB, "tilt_db_per_octave": TILT_DB_PER_OCTAVE}
    lines = []
    for machine_type, row in table.iterrows():
        for figure, factor in limits.items():
            synthetic, real = row[(figure, "synthetic")], row[(figure, "real")]
            if np.isfinite([real, synthetic]).all() and not real / factor <= synthetic <= real * factor:
                lines.append(f"{machine_type} {figure}: synthetic {synthetic:.3g}, real {real:.3g} (accepted: within a factor of {factor:g})")
        for figure, step in steps.items():
            synthetic, real = row[(figure, "synthetic")], row[(figure, "real")]
            if np.isfinite([real, synthetic]).all() and abs(synthetic - real) > step:
                lines.append(f"{machine_type} {figure}: synthetic {synthetic:.3g}, real {real:.3g} (accepted: within {step:g})")
    return lines
