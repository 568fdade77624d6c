"""Result files in the formats the official baseline of each edition writes, written atomically.

What the files are called and what result.csv's header and mean rows say are the edition's rules
(helpers.data.editions: ``ed.rules``); this module writes and reads them.

Per group of test clips (a 2020 machine ID, a 2021 section and domain, a 2022+ section), no
header, one ``file_name,value`` row per clip:

- ``anomaly_score_<type>_id_XX.csv`` (2020), ``anomaly_score_<type>_section_XX_<domain>_test.csv``
  (2021), ``anomaly_score_<type>_section_XX_test.csv`` (2022+): the anomaly scores;
- ``decision_result_<...>.csv`` with the same names: the decisions, 1 anomalous, 0 normal.

``result.csv``: per machine type a line with its name, a header (2020 ``id,AUC,pAUC,precision,
recall,F1 score``; 2021 ``section,domain,AUC,pAUC,...``; 2022+ ``section,AUC (source),AUC
(target),pAUC,pAUC (source),pAUC (target),precision (source),...``), a row per group, the mean
rows (2020: ``Average``, the arithmetic mean; later: ``arithmetic mean`` and ``harmonic mean``),
then an empty line. From 2021 on the file ends with a line ``official score,<value>`` (over
every machine type). From 2022 on, as the official evaluators print them (Rules.evaluator_summary),
each type's mean rows are followed by the evaluators' block (a header ``,,AUC,pAUC,precision,recall,
F1 score``, then ``arithmetic mean``, ``harmonic mean``, ``source harmonic mean``, ``target harmonic
mean``, both domains pooled), the file's end by the same rows "over all machine types, sections, and
domains" before the official score, and a last line ``official score ci95,<value>``.
``metrics.json``: the same figures under stable keys (metrics.metric_key) for scripts:
``official_score`` overall and per machine type, per type ``sections`` (one record per group:
``section``, ``auc_source``, ``auc_target``, ``pauc``, ...), ``arithmetic_mean`` and
``harmonic_mean``; from 2022 on ``official_score_ci95``, and ``evaluator`` overall and per type:
the evaluators' rows under their own names. Every file is written whole or not at all (helpers.fileio).
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pandas as pd

from helpers import metrics
from helpers.data.editions import EVALUATOR_FIGURES, Edition, Rules
from helpers.errors import ConfigError, ToolkitError
from helpers.fileio import atomic_write_text

OFFICIAL = "official score"
CI95 = "official score ci95"
SEED_RUN = r"^(?P<run>.+)-seed(?P<seed>\d+)$"  # a run of `python -m helpers run --seeds` (seed_run)
EVALUATOR_HEADER = ["", "", *EVALUATOR_FIGURES]  # the line before the evaluators' mean rows, as they print it


def _write_rows(path: Path, file_names, values, as_int: bool) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for name, value in zip(file_names, values):
        writer.writerow([name, int(value) if as_int else repr(float(value))])
    return atomic_write_text(path, buffer.getvalue())


def write_scores(result_dir: str | Path, rules: Rules, machine_type: str, scores: pd.DataFrame) -> list[Path]:
    """The score files, and the decision files when `scores` has decisions, of one machine type,
    one per group of the edition's rules (rules.file_groups), named as they name them.

    `scores`: [columns=section, domain, file_name, score, optionally decision]."""
    written = []
    for section, domain, group in rules.file_groups(scores):
        written.append(_write_rows(Path(result_dir) / rules.score_file_name(machine_type, section, domain),
                                   group["file_name"], group["score"], as_int=False))
        if "decision" in group and group["decision"].notna().all():
            written.append(_write_rows(Path(result_dir) / rules.decision_file_name(machine_type, section, domain),
                                       group["file_name"], group["decision"], as_int=True))
    return written


def read_scores(path: str | Path) -> pd.DataFrame:
    """An anomaly-score (or decision) file as a DataFrame with columns file_name, score."""
    return pd.read_csv(path, header=None, names=["file_name", "score"], dtype={"file_name": str})


def _format(value) -> str:
    if isinstance(value, str):
        return value
    return "nan" if value is None or math.isnan(value) else repr(float(value))


def _evaluator_rows(writer, rows: dict[str, dict[str, float]]) -> None:
    if rows:
        writer.writerow(EVALUATOR_HEADER)
        for name, values in rows.items():
            writer.writerow([name, "", *(_format(values[f]) for f in EVALUATOR_FIGURES)])


def write_result_csv(path: str | Path, tables: dict[str, pd.DataFrame], rules: Rules, summary: dict | None = None) -> Path:
    """Write ``result.csv`` from {machine_type: rules.group_table(...)} in the layout of the edition's rules
    (rules.result_header, rules.result_mean_rows, rules.result_official_line), with the evaluators'
    rows of `summary` (rules.evaluator_summary; None or {}: none)."""
    keys, figures = rules.group_columns, rules.figures
    summary = summary or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for machine_type, table in tables.items():
        writer.writerow([machine_type])
        writer.writerow(rules.result_header)
        for row in table[[*keys, *figures]].itertuples(index=False):
            writer.writerow([_format(v) for v in row])
        for name, values in metrics.means(table, figures).items():
            if name in rules.result_mean_rows:
                writer.writerow([rules.result_mean_rows[name], *[""] * (len(keys) - 1),
                                 *(_format(values[f]) for f in figures)])
        _evaluator_rows(writer, summary.get("machine_types", {}).get(machine_type, {}))
        writer.writerow([])
    overall = summary.get("all", {})
    if overall:
        _evaluator_rows(writer, {name: values for name, values in overall.items() if isinstance(values, dict)})
        writer.writerow([])
    if rules.result_official_line:
        writer.writerow([OFFICIAL, _format(rules.official_score(list(tables.values())))])
    if CI95 in overall:
        writer.writerow([CI95, _format(overall[CI95])])
    return atomic_write_text(path, buffer.getvalue())


def read_result_csv(path: str | Path) -> pd.DataFrame:
    """A ``result.csv`` as rows [columns=machine_type, then its header's columns] with the mean rows
    included (in the first column: 'Average', 'arithmetic mean', ...; 2020's ``id`` is ``section``)
    and, from 2021 on, a last row (machine_type 'all', section 'official score', value in 'official score',
    from 2022 on its 95 % interval in 'official score ci95'). The evaluators' rows (2022 on) are rows
    too, their figures in the columns AUC, pAUC, precision, recall, F1 score, and 'evaluator' True
    (False on every other row); those over all types have machine_type 'all'."""
    rows, machine_type, header, evaluator = [], None, None, False
    with open(path, newline="") as handle:
        for line in csv.reader(handle):
            if not line:
                machine_type, header, evaluator = None, None, False
            elif line[0] == OFFICIAL and len(line) == 2 and machine_type is None:
                rows.append({"machine_type": "all", "section": OFFICIAL, "evaluator": False, OFFICIAL: float(line[1])})
            elif line[0] == CI95 and len(line) == 2 and machine_type is None:
                rows[-1][CI95] = float(line[1])
            elif line == EVALUATOR_HEADER:
                machine_type, header, evaluator = machine_type or "all", ["section", "", *EVALUATOR_FIGURES], True
            elif machine_type is None:
                machine_type = line[0]
            elif header is None:
                header = ["section" if h == "id" else h for h in line]
            else:
                row = dict(zip(header, line))
                rows.append({"machine_type": machine_type, "evaluator": evaluator,
                             **{k: v if k in ("section", "domain") else float(v) if v else float("nan")
                                for k, v in row.items() if k}})
    return pd.DataFrame(rows)


def _records(table: pd.DataFrame) -> list[dict]:
    return [{metrics.metric_key(k): v for k, v in r.items()} for r in table.to_dict(orient="records")]


def write_metrics_json(path: str | Path, tables: dict[str, pd.DataFrame], ed: Edition,
                       extra: dict | None = None, summary: dict | None = None) -> Path:
    """Machine-readable metrics (full precision; see the module docstring for the keys); "style" names
    the rule set; `summary`: the evaluators' rows (rules.evaluator_summary; None or {}: none)."""
    rules = ed.rules
    summary = summary or {}
    payload = {"year": ed.year, "edition": ed.name, "style": rules.name, "group": rules.group_word,
               "official_score": rules.official_score(list(tables.values())),
               **({"official_score_ci95": summary["all"][CI95], "evaluator": summary["all"]} if summary else {}),
               **(extra or {}), "machine_types": {}}
    for machine_type, table in tables.items():
        averages = metrics.means(table, rules.figures)
        payload["machine_types"][machine_type] = {
            "official_score": rules.official_score([table]),
            "sections": _records(table),
            **{name.replace(" ", "_"): {metrics.metric_key(k): v for k, v in values.items()}
               for name, values in averages.items()},
            **({"evaluator": summary["machine_types"][machine_type]} if summary else {}),
        }
    return atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=True))


def read_scores_table(result_dir: str | Path) -> pd.DataFrame:
    """The last test run's clip scores (scores.csv) [columns=machine_type, section, domain, file_name, label, score, decision, path]."""
    path = Path(result_dir) / "scores.csv"
    if not path.is_file():
        raise ToolkitError(f"no scores at {path}; run the solution's 01-test notebook first")
    return pd.read_csv(path, dtype={"section": str, "domain": str})


def read_metrics(path: str | Path) -> dict:
    """A run's metrics.json; ToolkitError naming the file if it cannot be read."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ToolkitError(f"cannot read {path}: {err}") from err


def collect_results(result_root: str | Path, year=None) -> pd.DataFrame:
    """Every run's figures under `result_root` (its metrics.json) for one edition, stacked.

    [columns=solution, year, machine_type, section, domain ("" where none), metric, value]: one row per figure of
    every group and mean row (section 'arithmetic mean' / 'harmonic mean'), and the official score
    per machine type and over all (machine_type 'all'), with section 'official score'. `year`:
    the edition to compare; None: the edition of the most recently written metrics.json. Runs
    of other editions are left out (ConfigError when none of the runs is of `year`).
    """
    found = sorted(Path(result_root).glob("*/metrics.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ToolkitError(f"no metrics.json under {result_root}/*/; run a solution's 01-test notebook first")
    runs = {path.parent.name: read_metrics(path) for path in found}
    years = sorted({run.get("year", 2020) for run in runs.values()})
    wanted = int(year) if year not in (None, "") else runs[found[-1].parent.name].get("year", 2020)
    if wanted not in years:
        raise ConfigError(f"no run of year {wanted} under {result_root}; the runs there are of {years}")
    rows = []
    for solution, run in runs.items():
        if run.get("year", 2020) != wanted:
            continue
        rows.append((solution, "all", OFFICIAL, None, "official_score", run["official_score"]))
        for machine_type, entry in run["machine_types"].items():
            rows.append((solution, machine_type, OFFICIAL, None, "official_score", entry["official_score"]))
            for record in entry["sections"]:
                rows += [(solution, machine_type, record["section"], record.get("domain"), k, v)
                         for k, v in record.items() if k not in ("section", "domain", "n_normal", "n_anomaly")]
            for name in metrics.MEAN_ROWS:
                rows += [(solution, machine_type, name, None, k, v) for k, v in entry[name.replace(" ", "_")].items()]
    frame = pd.DataFrame(rows, columns=["solution", "machine_type", "section", "domain", "metric", "value"])
    frame["domain"] = frame["domain"].fillna("")
    return frame.assign(year=wanted)[["solution", "year", "machine_type", "section", "domain", "metric", "value"]]


def seed_run(run: str, seed: int) -> str:
    """The name of one seed's run of `run` (``python -m helpers run --seeds``): ``<run>-seed<seed>``."""
    return f"{run}-seed{seed}"


def seeds_name(run: str) -> str:
    """What :func:`over_seeds` calls the runs of `run`'s seeds taken together: ``<run>-seeds``."""
    return f"{run}-seeds"


def over_seeds(collected: pd.DataFrame) -> pd.DataFrame:
    """:func:`collect_results`' figures with the runs of one run's seeds (named by :func:`seed_run`)
    taken together: [columns=solution, year, machine_type, section, domain, metric, value, sd, n, seeds]
    where solution is :func:`seeds_name` of the run, value the mean over its seeds, sd their sample
    standard deviation and seeds the seeds, space-separated. Other runs stay as they are (sd nan,
    seeds ""). Undefined figures are left out of the mean and sd; n counts the defined ones."""
    found = collected["solution"].str.extract(SEED_RUN)
    named = collected.assign(solution=found["run"].map(seeds_name, na_action="ignore").fillna(collected["solution"]),
                             seed=found["seed"].fillna(""))
    keys = ["solution", "year", "machine_type", "section", "domain", "metric"]
    grouped = named.groupby(keys, sort=False, dropna=False)
    summary = grouped["value"].agg(value="mean", sd="std", n="count").reset_index()
    seeds = grouped["seed"].agg(lambda s: " ".join(sorted(set(s), key=lambda x: int(x) if x else -1)).strip())
    return summary.assign(seeds=seeds.to_numpy())


def official_table(collected: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    """The official score per machine type (rows, 'all' last) and run (columns) from :func:`collect_results`
    or :func:`over_seeds` (`column` "sd": its spread)."""
    scores = collected[collected["metric"] == "official_score"]
    table = scores.pivot_table(index="machine_type", columns="solution", values=column, sort=False, dropna=False)
    return table.reindex([t for t in table.index if t != "all"] + ["all"])


def official_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The official-score rows of :func:`over_seeds` (or :func:`collect_results`), 'all' last, the value in
    a column "official score" [columns=solution, machine_type, official score, ...]."""
    rows = summary[summary["metric"] == "official_score"].rename(columns={"value": OFFICIAL})
    return pd.concat([rows[rows["machine_type"] != "all"], rows[rows["machine_type"] == "all"]])


def official_text(summary: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """:func:`official_table` of :func:`over_seeds` as text: "0.7120 ± 0.0100 (3 seeds)" where a run
    has several seeds, the value alone where it has one, "undefined" where none is defined."""
    means, sds = official_table(summary), official_table(summary, "sd")
    counts = official_table(summary, "n").fillna(0).astype(int)

    def text(mean: float, sd: float, n: int) -> str:
        if not n:
            return "undefined"
        return f"{mean:.{digits}f} ± {sd:.{digits}f} ({n} seeds)" if n > 1 else f"{mean:.{digits}f}"
    return pd.DataFrame({c: [text(*v) for v in zip(means[c], sds[c], counts[c])] for c in means}, index=means.index)
