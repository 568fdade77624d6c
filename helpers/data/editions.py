"""The DCASE anomalous-sound editions, 2020 to 2026: one rules object per rule set, one table of per-year facts.

Three rule sets cover the seven editions; each is one :class:`Rules` subclass with one instance:

- :data:`RULES_2020` (2020): <root>/<type>/train/normal_id_XX_NNNNNNNN.wav and
  <root>/<type>/test/{normal,anomaly}_id_XX_NNNNNNNN.wav (eval test: id_XX_NNNNNNNN.wav); results
  grouped by machine ID ("id"), one domain; official score: the arithmetic mean of every ID's AUC and pAUC.
- :data:`RULES_2021` (2021): <root>/<type>/train/section_XX_{source,target}_train_normal_NNNN[_<attributes>].wav,
  <root>/<type>/{source,target}_test/section_XX_<domain>_test_{normal,anomaly}_NNNN[_<attributes>].wav
  (eval test: section_XX_<domain>_test_NNNN.wav); grouped by section and domain; official score:
  the harmonic mean of every section's and domain's AUC and pAUC.
- :data:`RULES_2022` (2022 to 2026): the same names, every test clip in one <root>/<type>/test/ folder
  (eval test: section_XX_NNNN.wav, domain unknown), per-section attributes_XX.csv beside the clip
  folders; grouped by section, AUC per domain over the domain's normals and *every* anomaly of the
  section; official score: the harmonic mean of AUC (source), AUC (target) and pAUC of every section.

A rules object owns everything that differs between rule sets: reading and making clip names
(:meth:`Rules.match`, :meth:`Rules.clip_name`, the accepted-name text), the test folders, how
results are grouped and what a group is called, the figures of a group and their order
(:meth:`Rules.group_table`), the official score and its rule, the result files' names and
result.csv's header and mean rows, the ROC curves' groups, and the synthetic generator's counts.
Generic machinery stays where it was and is called from here: AUC, pAUC, decision figures and
means (helpers.metrics), writing the files (helpers.experiments.results), the Clip (helpers.data.layout).

:data:`EDITIONS` is the one table of per-year facts: one :class:`Edition` row per year with its
rule set, machine types and sections (2020: machine IDs) of the development and evaluation sets,
Zenodo records, the marker that tells its data from the other years of its rule set, clip
lengths and the synthetic generator's facts. A new year is one row; a new rule set is one Rules
subclass (and its rows).

A clip's *section* is its group: the machine ID in 2020, the section from 2021 on.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import numpy as np
import pandas as pd

from helpers import metrics
from helpers.errors import ConfigError, DataLayoutError

SPLITS = ("train", "test")
LABELS = {"normal": 0, "anomaly": 1}
DOMAINS = ("source", "target")
CLIP_SECONDS = 10.0  # a clip's length where its edition's row names no other
EVALUATOR_FIGURES = ("AUC", "pAUC", *metrics.DECISION_METRICS)  # the official evaluators' mean rows' columns
OVER_ALL = " over all machine types, sections, and domains"  # their overall rows' names: "harmonic mean" + OVER_ALL


def check_split(split: str) -> None:
    """DataLayoutError unless `split` is one of SPLITS."""
    if split not in SPLITS:
        raise DataLayoutError(f"split must be one of {SPLITS}, got {split!r}")


class NameParts(NamedTuple):
    """What a clip's file name says: its group (2020: machine ID, later: section), index, label
    (0, 1; None for an unlabelled eval clip), domain (None where an eval name hides it) and attribute part ("" for none)."""

    section: str
    index: int
    label: int | None
    domain: str | None
    attributes: str


class Rules(ABC):
    """One rule set of the task: names, folders, grouping, figures, official score, result files.

    A `section` argument or column is a clip's group (2020: machine ID, later: section).
    Class attributes (each subclass sets those that differ):
    name: the rule set's name ("2020", "2021", "2022"), written as metrics.json's "style";
    group_word: what a group is called ("id" in 2020, "section" later), also result.csv's first header column;
    group_columns: the score-table columns a group is keyed by; domains: the domains of its clips;
    test_folders: {folder under <type>/: the domain its test clips must have (None: any)};
    figures: the figures of a group, in the official result files' order; ranked: those the
    official score is made of; official_mean: the mean (helpers.metrics.MEANS) that makes the
    official score, and the mean row that shows it; official_rule: that rule in words;
    result_mean_rows: {mean: its row name in result.csv}, the mean rows result.csv writes;
    result_official_line: whether result.csv ends with a line ``official score,<value>``;
    accepted: the accepted clip names in words; attribute_tables: whether a data set has
    per-section <type>/attributes_XX.csv tables; speed_word: the word before the speed in a
    synthetic clip's attribute part (None: the machine type's own key);
    synth_section_counts: {preset: (source training, target training, normal test, anomalous test
    clips of each domain) per section} of synthetic sets, None where the counts are per machine ID
    (helpers.data.synth.PRESETS); synth_eval: whether the eval layout (unlabelled test clips and their
    ground truth) is synthesised; evaluator_rows: whether the edition's official evaluator also
    prints the domain-pooled mean rows and the official score's 95 % interval (:meth:`evaluator_summary`).
    """

    name: str
    group_word = "section"
    group_columns: tuple[str, ...] = ("section",)
    domains: tuple[str, ...] = DOMAINS
    test_folders: dict[str, str | None] = {"test": None}
    figures: tuple[str, ...] = ("AUC", "pAUC", *metrics.DECISION_METRICS)
    ranked: tuple[str, ...] = ("AUC", "pAUC")
    official_mean = "harmonic mean"
    official_rule: str
    result_mean_rows: dict[str, str] = {name: name for name in metrics.MEAN_ROWS}
    result_official_line = True
    accepted: str
    attribute_tables = False
    speed_word: str | None = None
    synth_section_counts: dict[str, tuple[int, int, int, int]] | None = None
    synth_eval = False
    evaluator_rows = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @property
    def title(self) -> str:
        """The editions that follow these rules, as text: "DCASE 2020 Task 2", "DCASE 2022-2026 Task 2"."""
        years = [year for year, ed in EDITIONS.items() if ed.rules is self]
        return f"DCASE {years[0]} Task 2" if len(years) == 1 else f"DCASE {years[0]}-{years[-1]} Task 2"

    # -- clip names -----------------------------------------------------------------------------

    def parts(self, name: str) -> NameParts | None:
        """What a clip name says under these rules, whatever folder it is in; None for a name they do not accept."""
        split_parts = self._parts(name)
        return split_parts[1] if split_parts else None

    @abstractmethod
    def _parts(self, name: str) -> tuple[str | None, NameParts] | None:
        """(the split a labelled name names, or None for names that name none; its parts), or None."""

    def accepts(self, name: str) -> bool:
        """Whether a file name follows these rules' pattern (in some folder)."""
        return self._parts(name) is not None

    def match(self, path: Path, split: str) -> NameParts | None:
        """What the name of a file in a `split` folder says; None if it does not follow the pattern
        (an unlabelled name in a training folder included). DataLayoutError naming the file for a
        name of another split, or an anomaly in a training folder."""
        found = self._parts(path.name)
        if found is None:
            return None
        name_split, parts = found
        if name_split is not None and name_split != split:
            raise DataLayoutError(f"{path}: a {name_split} clip in a {split} folder")
        if parts.label is None and split != "test":
            return None
        if split == "train" and parts.label != LABELS["normal"]:
            raise DataLayoutError(f"{path}: training folders hold normal clips only, found 'anomaly'")
        return parts

    @abstractmethod
    def clip_name(self, section: str, index: int, split: str, label: str | None,
                  domain: str = "source", attributes: str = "") -> str:
        """The file name of a clip: `section` its group (2020: machine ID, later: section), `label`
        "normal", "anomaly" or None for an unlabelled (eval) test clip, `domain` and `attributes`
        where the rules name them.

        2020: ``normal_id_00_00000012.wav``; later: ``section_00_target_test_anomaly_0012_<attributes>.wav``
        (2022 on, unlabelled: ``section_00_0012.wav``)."""

    @abstractmethod
    def claims(self, folders: list[Path], names: list[str]) -> bool:
        """Whether a data folder's machine-type folders and clip names follow these rules (:data:`DETECTION_ORDER`)."""

    # -- groups and figures ---------------------------------------------------------------------

    def group_title(self, section: str, domain: str | None) -> str:
        """How a clip's group is named in titles: "id 00" (2020), "section 00 · target" (later)."""
        return f"section {section} · {domain or 'unknown domain'}"

    def group_table(self, scores: pd.DataFrame) -> pd.DataFrame:
        """The figures of each group of one machine type's labelled test clips.

        `scores`: [columns=section, domain, label (0/1), score, optionally decision (0/1)]; returns
        [columns=group_columns, figures, n_normal, n_anomaly], one row per group in sorted order.
        A group whose clips hold one class has undefined (nan) AUCs.
        """
        rows = []
        for key, group in scores.groupby(list(self.group_columns), sort=True):
            rows.append({**dict(zip(self.group_columns, key)), **self._group_figures(group), **metrics.counts(group)})
        return pd.DataFrame(rows, columns=[*self.group_columns, *self.figures, *metrics.COUNTS])

    def _group_figures(self, group: pd.DataFrame) -> dict[str, float]:
        """{figure: value} of one group's clips: AUC, pAUC and the decision figures over all of them."""
        return dict(zip(self.figures, metrics.figures(group)))

    def ranked_values(self, table: pd.DataFrame) -> np.ndarray:
        """Every defined figure the official score is made of, over all groups of `table`. [shape=(values,)]"""
        values = table[list(self.ranked)].to_numpy(dtype=np.float64).ravel()
        return values[np.isfinite(values)]

    def official_score(self, tables: list[pd.DataFrame]) -> float:
        """The one figure over these group tables (one machine type, or all): official_mean of every
        ranked value; nan without one defined value."""
        values = np.concatenate([self.ranked_values(t) for t in tables]) if tables else np.array([])
        return metrics.MEANS[self.official_mean](values) if len(values) else float("nan")

    @property
    def ranked_keys(self) -> list[str]:
        """The stable keys (helpers.metrics.metric_key) of the ranked figures."""
        return [metrics.metric_key(c) for c in self.ranked]

    def summary_table(self, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
        """Every type's group rows, then its arithmetic and harmonic means and its official score.

        [columns=machine_type, group_columns, figures, official score]; the mean rows carry their
        name in the section column, the official score is on the official_mean row and blank elsewhere.
        """
        rows = []
        for machine_type, table in tables.items():
            rows += [{"machine_type": machine_type, **r}
                     for r in table[[*self.group_columns, *self.figures]].to_dict(orient="records")]
            for name, values in metrics.means(table, self.figures).items():
                score = self.official_score([table]) if name == self.official_mean else float("nan")
                rows.append({"machine_type": machine_type, "section": name, **values, "official score": score})
        return pd.DataFrame(rows, columns=["machine_type", *self.group_columns, *self.figures, "official score"])

    def evaluator_means(self, tables: list[pd.DataFrame]) -> dict[str, dict[str, float]]:
        """The official 2023-2025 evaluators' mean rows over these group tables, by their names:
        {"arithmetic mean", "harmonic mean", "source harmonic mean", "target harmonic mean":
        {figure in EVALUATOR_FIGURES: value}}. AUC, precision, recall and F1 pool both domains' values
        of every section (a domain's row: that domain's), pAUC every section's once; undefined values
        are left out. {} for rules whose evaluator prints no such rows (:attr:`evaluator_rows`)."""
        if not self.evaluator_rows:
            return {}
        rows = {"arithmetic mean": (metrics.arithmetic_mean, DOMAINS), "harmonic mean": (metrics.harmonic_mean, DOMAINS),
                **{f"{d} harmonic mean": (metrics.harmonic_mean, (d,)) for d in DOMAINS}}
        out = {}
        for name, (mean, domains) in rows.items():
            out[name] = {}
            for figure in EVALUATOR_FIGURES:
                columns = ["pAUC"] if figure == "pAUC" else [f"{figure} ({d})" for d in domains]
                values = np.concatenate([t[c].to_numpy(dtype=np.float64) for t in tables for c in columns] or [[]])
                out[name][figure] = mean(values[np.isfinite(values)])
        return out

    def evaluator_summary(self, tables: dict[str, pd.DataFrame], clips: pd.DataFrame) -> dict:
        """Every figure the official 2023-2025 evaluators print beyond the group rows, by their names;
        {} for rules whose evaluator prints none (:attr:`evaluator_rows`).

        `tables`: {machine_type: :meth:`group_table`}; `clips`: every labelled test clip of them
        [columns=label, score]. Returns {"machine_types": {type: :meth:`evaluator_means`}, "all":
        {"<row> over all machine types, sections, and domains": {figure: value}, "official score",
        "official score ci95", and the ranking table's "arithmetic mean", "harmonic mean (source)",
        "harmonic mean (target)" (of the AUCs of every section)}}. The 95 % interval is the
        evaluators': the mean of the jackknife half-widths (helpers.metrics.auc_pauc_ci95) of the
        AUC and the pAUC of all clips pooled, whatever their machine type.
        """
        if not self.evaluator_rows:
            return {}
        overall = self.evaluator_means(list(tables.values()))
        labels, scores = clips["label"].to_numpy(), clips["score"].to_numpy(dtype=np.float64)
        half_widths = metrics.auc_pauc_ci95(labels, scores)
        return {"machine_types": {t: self.evaluator_means([table]) for t, table in tables.items()},
                "all": {**{f"{name}{OVER_ALL}": values for name, values in overall.items()},
                        "official score": self.official_score(list(tables.values())),
                        "official score ci95": float(np.mean(half_widths)),
                        "arithmetic mean": overall["arithmetic mean"]["AUC"],
                        **{f"harmonic mean ({d})": overall[f"{d} harmonic mean"]["AUC"] for d in DOMAINS}}}

    def roc_groups(self, scores: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
        """(legend name, section, clips) per ROC curve of one machine type's scores [columns=section,
        domain, label, score]: per section and domain, over the clips its AUC is computed on; unlabelled clips left out."""
        labelled = scores[scores["label"].notna()]
        for section, group in labelled.groupby("section"):
            for domain in DOMAINS:
                yield f"section {section} {domain}", section, self._domain_clips(group, domain)

    def _domain_clips(self, group: pd.DataFrame, domain: str) -> pd.DataFrame:
        """The clips of one section that a domain's AUC ranks: the domain's own."""
        return group[group["domain"] == domain]

    # -- result files ---------------------------------------------------------------------------

    @abstractmethod
    def file_stem(self, machine_type: str, section: str, domain: str | None) -> str:
        """The part after ``anomaly_score_`` / ``decision_result_`` of one group's file names, without ``.csv``."""

    def score_file_name(self, machine_type: str, section: str, domain: str | None = None) -> str:
        """``anomaly_score_<file_stem>.csv``: one group's anomaly scores."""
        return f"anomaly_score_{self.file_stem(machine_type, section, domain)}.csv"

    def decision_file_name(self, machine_type: str, section: str, domain: str | None = None) -> str:
        """``decision_result_<file_stem>.csv``: one group's decisions."""
        return f"decision_result_{self.file_stem(machine_type, section, domain)}.csv"

    def file_groups(self, scores: pd.DataFrame) -> Iterator[tuple[str, str | None, pd.DataFrame]]:
        """(section, domain or None, clips) per score file of one machine type's scores [columns=section,
        domain, ...], keyed by group_columns ("unknown" for a domain an eval name hides)."""
        keys = [scores[c].fillna("unknown") if c == "domain" else c for c in self.group_columns]
        for key, group in scores.groupby(keys, sort=True):
            yield key[0], key[1] if len(key) > 1 else None, group

    @property
    def result_header(self) -> list[str]:
        """result.csv's header row: the group columns (the section called group_word), then the figures."""
        return [self.group_word if c == "section" else c for c in self.group_columns] + list(self.figures)


class Rules2020(Rules):
    """DCASE 2020: machine IDs, one domain, test clips in <type>/test; the arithmetic-mean official score."""

    name = "2020"
    group_word = "id"
    domains = ("source",)
    official_mean = "arithmetic mean"
    official_rule = "arithmetic mean of every ID's AUC and pAUC"
    result_mean_rows = {"arithmetic mean": "Average"}
    result_official_line = False
    accepted = "normal_id_XX_NNNNNNNN.wav, anomaly_id_XX_NNNNNNNN.wav or (eval test) id_XX_NNNNNNNN.wav"
    synth_eval = True
    _LABELLED = re.compile(r"^(normal|anomaly)_id_(\d{2})_(\d{8})\.wav$")
    _UNLABELLED = re.compile(r"^id_(\d{2})_(\d{8})\.wav$")

    def _parts(self, name):
        match = self._LABELLED.match(name)
        if match:
            label_word, section, index = match.groups()
            return None, NameParts(section, int(index), LABELS[label_word], "source", "")
        match = self._UNLABELLED.match(name)
        if match:
            section, index = match.groups()
            return None, NameParts(section, int(index), None, "source", "")
        return None

    def clip_name(self, section, index, split, label, domain="source", attributes=""):
        check_split(split)
        stem = f"id_{section}_{index:08d}.wav"
        return stem if label is None else f"{label}_{stem}"

    def claims(self, folders, names):
        return True  # id_ names, or no clips at all: what no other rule set claims

    def group_title(self, section, domain):
        return f"id {section}"

    def roc_groups(self, scores):
        for section, group in scores[scores["label"].notna()].groupby("section"):
            yield f"id {section}", section, group

    def file_stem(self, machine_type, section, domain):
        return f"{machine_type}_id_{section}"


class _SectionRules(Rules):
    """What the rule sets from 2021 on share: section names with domains and attributes."""

    _LABELLED = re.compile(r"^section_(\d{2})_(source|target)_(train|test)_(normal|anomaly)_(\d{4,8})(?:_(.+))?\.wav$")
    _UNLABELLED: re.Pattern  # named groups section, index, attributes and (where the name shows it) domain

    def _parts(self, name):
        match = self._LABELLED.match(name)
        if match:
            section, domain, name_split, label_word, index, attributes = match.groups()
            return name_split, NameParts(section, int(index), LABELS[label_word], domain, attributes or "")
        match = self._UNLABELLED.match(name)
        if match:
            found = match.groupdict()
            return None, NameParts(found["section"], int(found["index"]), None, found.get("domain"),
                                   found["attributes"] or "")
        return None

    def clip_name(self, section, index, split, label, domain="source", attributes=""):
        check_split(split)
        tail = f"_{attributes}" if attributes else ""
        if label is None:
            return self._unlabelled_name(section, index, domain, tail)
        return f"section_{section}_{domain}_{split}_{label}_{index:04d}{tail}.wav"

    @abstractmethod
    def _unlabelled_name(self, section: str, index: int, domain: str, tail: str) -> str:
        """The name of an unlabelled (eval) test clip; `tail`: "_<attributes>" or ""."""


class Rules2021(_SectionRules):
    """DCASE 2021: sections and domains, test clips in <type>/source_test and <type>/target_test;
    figures per section and domain."""

    name = "2021"
    group_columns = ("section", "domain")
    test_folders = {"source_test": "source", "target_test": "target"}
    official_rule = "harmonic mean of AUC and pAUC over every section and domain"
    accepted = ("section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN[_<attributes>].wav "
                "or (eval test) section_XX_{source,target}_test_NNNN.wav")
    speed_word = "speed"  # free-form attributes: speed_28_noise_A_mic_1
    synth_section_counts = {"tiny": (4, 1, 2, 2), "small": (100, 3, 25, 25), "medium": (300, 3, 50, 50),
                            "full": (1000, 3, 100, 100)}  # full: the real set
    _UNLABELLED = re.compile(
        r"^section_(?P<section>\d{2})_(?P<domain>source|target)_test_(?P<index>\d{4,8})(?:_(?P<attributes>.+))?\.wav$")

    def _unlabelled_name(self, section, index, domain, tail):
        return f"section_{section}_{domain}_test_{index:04d}{tail}.wav"

    def claims(self, folders, names):
        return any((d / f).is_dir() for d in folders for f in self.test_folders)

    def file_stem(self, machine_type, section, domain):
        return f"{machine_type}_section_{section}_{domain}_test"


class Rules2022(_SectionRules):
    """DCASE 2022 to 2026: sections, every test clip in <type>/test; per section, AUC of each domain's
    normals against every anomaly of the section, pAUC and AUC (all) over all its clips, the rest per
    domain; the official evaluator's mean rows and 95 % interval as well."""

    name = "2022"
    figures = ("AUC (source)", "AUC (target)", "pAUC", "pAUC (source)", "pAUC (target)",
               *(f"{m} ({d})" for m in metrics.DECISION_METRICS for d in DOMAINS), "AUC (all)")
    ranked = ("AUC (source)", "AUC (target)", "pAUC")
    official_rule = "harmonic mean of AUC (source), AUC (target) and pAUC over every section"
    accepted = ("section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN[_<attributes>].wav "
                "or (eval test) section_XX_NNNN.wav")
    attribute_tables = True
    evaluator_rows = True
    synth_section_counts = {"tiny": (4, 1, 2, 2), "small": (100, 10, 25, 25), "medium": (300, 10, 50, 50),
                            "full": (990, 10, 50, 50)}  # full: the real sets
    _UNLABELLED = re.compile(r"^section_(?P<section>\d{2})_(?P<index>\d{4,8})(?:_(?P<attributes>.+))?\.wav$")

    def _unlabelled_name(self, section, index, domain, tail):
        return f"section_{section}_{index:04d}.wav"

    def claims(self, folders, names):
        sectioned = sum(n.startswith("section_") for n in names)
        return sectioned > 0 and sectioned >= len(names) - sectioned

    def _group_figures(self, group):
        row = dict(zip(("AUC (all)", "pAUC"), metrics.auc_pauc(group["label"], group["score"])))
        for domain in DOMAINS:
            ranked = self._domain_clips(group, domain)
            row[f"AUC ({domain})"] = metrics.auc_pauc(ranked["label"], ranked["score"])[0]
            _, row[f"pAUC ({domain})"], *decided = metrics.figures(group[group["domain"] == domain])
            row.update({f"{m} ({domain})": v for m, v in zip(metrics.DECISION_METRICS, decided)})
        return row

    def _domain_clips(self, group, domain):
        """The domain's normal clips and every anomaly of the section (as AUC (source) and AUC (target) rank them)."""
        return group[(group["domain"] == domain) | (group["label"] == LABELS["anomaly"])]

    def file_stem(self, machine_type, section, domain):
        return f"{machine_type}_section_{section}_test"


RULES_2020, RULES_2021, RULES_2022 = Rules2020(), Rules2021(), Rules2022()
RULE_SETS = (RULES_2020, RULES_2021, RULES_2022)
CLIP_FOLDERS = ("train", *dict.fromkeys(f for r in RULE_SETS for f in r.test_folders))  # under <type>/, of any rule set
DETECTION_ORDER = (RULES_2021, RULES_2022, RULES_2020)  # the first whose claims() holds reads a data folder


Marker = Callable[[list[Path], list[NameParts]], bool]  # (machine-type folders, the parts of the names the rules accept)


@dataclass(frozen=True)
class Edition:
    """One year of the task: one row of :data:`EDITIONS`.

    rules: its rule set; dev_types / eval_types: the machine types of the development and
    evaluation sets as published (folders of other names are read too); dev_sections /
    eval_sections: {machine type: its groups (2020: machine IDs, later: sections)} of each set;
    records: the Zenodo record of each data set (dev, additional: the evaluation set's training
    clips, eval: its test clips, ground_truth: its labels, 2020 only); marker: whether a data
    folder shows this year rather than the other years of its rule set (None: the year a rule
    set's data is read as without one);
    clip_seconds: clip lengths per type where they are not CLIP_SECONDS; no_attribute: the types
    whose clip names hide their attributes (``noAttribute``); synth_keyed_by_year: whether the
    synthetic generator's random streams and manifest carry the year (2020's predate the other years);
    synth_supplemental: {preset: (clean machine clips, noise clips)} the synthetic generator writes
    into each type's supplemental/ folder (2025), None: none.
    """

    year: int
    rules: Rules
    dev_types: tuple[str, ...]
    eval_types: tuple[str, ...]
    dev_sections: dict[str, tuple[str, ...]]
    eval_sections: dict[str, tuple[str, ...]]
    records: dict[str, int]
    marker: Marker | None = None
    clip_seconds: dict[str, float] = field(default_factory=dict)
    no_attribute: tuple[str, ...] = ()
    synth_keyed_by_year: bool = True
    synth_supplemental: dict[str, tuple[int, int]] | None = None

    @property
    def name(self) -> str:
        return f"DCASE {self.year} Task 2"

    @property
    def machine_types(self) -> tuple[str, ...]:
        """Development then evaluation types, each once, in the published order."""
        return tuple(dict.fromkeys(self.dev_types + self.eval_types))

    def folders(self, split: str) -> dict[str, str | None]:
        """{folder under <type>/ holding the split's clips: the domain its clips must have (None: any)}."""
        check_split(split)
        return {"train": None} if split == "train" else dict(self.rules.test_folders)

    def seconds(self, machine_type: str) -> float:
        """The length of a machine type's clips."""
        return self.clip_seconds.get(machine_type, CLIP_SECONDS)


def _every(types: tuple[str, ...], sections: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {t: sections for t in types}


def _one_section(folders, clips) -> bool:
    """One section 00 per machine type (2023)."""
    return {c.section for c in clips} == {"00"}


def _no_attribute(folders, clips) -> bool:
    """Clip names ending in _noAttribute (2024)."""
    return any(c.attributes == "noAttribute" for c in clips)


def _supplemental(folders, clips) -> bool:
    """supplemental/ folders beside the clip folders: clean machine sound and noise alone (2025)."""
    return any((d / "supplemental").is_dir() for d in folders)


def _emulated(folders, clips) -> bool:
    """Emulated machine types, <type>Emu folders (2026)."""
    return any(d.name.endswith("Emu") for d in folders)


_MIMII = ("fan", "pump", "slider", "valve")
_2020_TYPES = ("ToyCar", "ToyConveyor", *_MIMII)
_2021_TYPES = ("ToyCar", "ToyTrain", "fan", "gearbox", "pump", "slider", "valve")
_2022_TYPES = ("ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve")
_2023_EVAL = ("ToyDrone", "ToyNscale", "ToyTank", "Vacuum", "bandsaw", "grinder", "shaker")
_2024_EVAL = ("3DPrinter", "AirCompressor", "BrushlessMotor", "HairDryer", "HoveringDrone", "RoboticArm", "Scanner",
              "ToothBrush", "ToyCircuit")
_2025_EVAL = ("AutoTrash", "BandSealer", "CoffeeGrinder", "HomeCamera", "Polisher", "ScrewFeeder", "ToyPet", "ToyRCCar")
_2026_DEV = ("ToyCar", "ToyCarEmu", "bearingEmu", "fan", "gearboxEmu", "sliderEmu", "valveEmu")
_2026_EVAL = ("BlowerDustCollector", "Sander", "SewingMachine", "ToothBrush", "ToyDrone")
_ONE = ("00",)

EDITIONS: dict[int, Edition] = {e.year: e for e in (
    Edition(2020, RULES_2020, _2020_TYPES, _2020_TYPES,
            dev_sections={"ToyCar": ("01", "02", "03", "04"), "ToyConveyor": ("01", "02", "03"),
                          **_every(_MIMII, ("00", "02", "04", "06"))},
            eval_sections={"ToyCar": ("05", "06", "07"), "ToyConveyor": ("04", "05", "06"),
                           **_every(_MIMII, ("01", "03", "05"))},
            records={"dev": 3678171, "additional": 3727685, "eval": 3841772, "ground_truth": 3951620},
            clip_seconds={"ToyCar": 11.0}, synth_keyed_by_year=False),
    Edition(2021, RULES_2021, _2021_TYPES, _2021_TYPES,
            dev_sections=_every(_2021_TYPES, ("00", "01", "02")), eval_sections=_every(_2021_TYPES, ("03", "04", "05")),
            records={"dev": 4562016, "additional": 4660992, "eval": 4884786}),
    Edition(2022, RULES_2022, _2022_TYPES, _2022_TYPES,
            dev_sections=_every(_2022_TYPES, ("00", "01", "02")), eval_sections=_every(_2022_TYPES, ("03", "04", "05")),
            records={"dev": 6355122, "additional": 6462969, "eval": 6586456}),
    Edition(2023, RULES_2022, _2022_TYPES, _2023_EVAL,
            dev_sections=_every(_2022_TYPES, _ONE), eval_sections=_every(_2023_EVAL, _ONE),
            records={"dev": 7882613, "additional": 7830345, "eval": 7860847},
            marker=_one_section),
    Edition(2024, RULES_2022, _2022_TYPES, _2024_EVAL,
            dev_sections=_every(_2022_TYPES, _ONE), eval_sections=_every(_2024_EVAL, _ONE),
            records={"dev": 10902294, "additional": 11259435, "eval": 11363076},
            marker=_no_attribute,
            no_attribute=("ToyTrain", "gearbox", "slider")),
    Edition(2025, RULES_2022, _2022_TYPES, _2025_EVAL,
            dev_sections=_every(_2022_TYPES, _ONE), eval_sections=_every(_2025_EVAL, _ONE),
            records={"dev": 15097779, "additional": 15392814, "eval": 15519362},
            marker=_supplemental,
            synth_supplemental={"tiny": (2, 2), "small": (10, 10), "medium": (20, 20), "full": (20, 80)}),
    Edition(2026, RULES_2022, _2026_DEV, _2026_EVAL,  # emulated types (<type>Emu) beside recorded ones; two-channel clips
            dev_sections=_every(_2026_DEV, _ONE), eval_sections=_every(_2026_EVAL, _ONE),
            records={"dev": 19336329, "additional": 20151556},  # no evaluation test record known yet
            marker=_emulated),
)}
YEARS = tuple(EDITIONS)


def edition(year) -> Edition:
    """The edition of a year (int or text); ConfigError listing the years accepted otherwise."""
    try:
        return EDITIONS[int(year)]
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"year {year!r} is not a DCASE anomalous-sound edition; accepted: "
                          f"{', '.join(map(str, YEARS))}") from None


def identify(folders: list[Path], names: list[str]) -> Edition:
    """The edition whose rules and marker a data folder shows.

    folders: its machine-type folders; names: the ``.wav`` names in their train and test folders.
    The rule set is the first of DETECTION_ORDER that claims them (2021: source_test/target_test
    folders; 2022-2026: mostly section_ names; 2020: the rest); the year, the newest of that rule
    set's years whose marker is found in the folders and the names the rules accept, else the one without a marker.
    """
    rules = next(r for r in DETECTION_ORDER if r.claims(folders, names))
    clips = [parts for parts in map(rules.parts, names) if parts is not None]
    years = [e for e in EDITIONS.values() if e.rules is rules]
    marked = [e for e in reversed(years) if e.marker is not None and e.marker(folders, clips)]
    return marked[0] if marked else next(e for e in years if e.marker is None)


def rules_of_name(path: str | Path) -> Rules:
    """The rule set a clip's path follows: the one whose domain test folder holds it (2021's
    source_test/target_test), else the first of RULE_SETS whose pattern its name follows.
    DataLayoutError naming the file and every rule set's accepted names if none does."""
    path = Path(path)
    for rules in RULE_SETS:
        if rules.test_folders.get(path.parent.name) is not None:
            return rules
    for rules in RULE_SETS:
        if rules.accepts(path.name):
            return rules
    raise DataLayoutError(f"{path}: file name follows no DCASE Task 2 pattern; accepted: "
                          + "; ".join(f"{r.accepted} ({r.title})" for r in RULE_SETS))
