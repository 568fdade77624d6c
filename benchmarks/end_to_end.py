"""The user's whole command against the original baseline's two scripts, same data and epochs, in one run.

    python benchmarks/end_to_end.py [--solution pytorch] [--size small] [--types fan,pump,valve] [--epochs 20]

Two ways, each a whole process (its children included) from a cold start, watched for wall time
and the peak of the summed resident memory of its process tree:
- baseline: ``benchmarks/original_baseline.py train`` then ``... test`` (the official DCASE 2020
  scripts' way: per-file librosa features stacked into one float64 array, Keras fit, one predict
  per test clip), the two processes one after the other;
- toolkit: ``python -m helpers run --solution <solution>`` (its train, test and visualize
  notebooks under papermill, then the comparison notebook) with an empty feature cache.
Then the toolkit's time per notebook and per stage, read from the executed notebooks: papermill's
time per cell, grouped by the cells' ``stage-*`` tags (helpers.execution.notebooks), the training loop's
seconds from train_summary.csv, and the kernel start and shutdown (a notebook's time outside
its cells). The synthetic data is made once per size and kept in the cache's work folder.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the benchmarks folder, however this file is run
from report import markdown_table, write  # noqa: E402  the reports of both benchmarks

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "benchmarks" / "original_baseline.py"
TIME_LIMIT = 3 * 3600.0  # seconds one command of either way may run before it is stopped and reported


class TreeWatch(threading.Thread):
    """Samples the summed resident memory of a process and its descendants until it ends.

    `peak`: the highest sum in bytes. With `limit` (bytes), the whole tree is killed as soon as
    the sum passes it, and `stopped` says so.
    """

    def __init__(self, pid: int, interval: float = 0.1, limit: float | None = None):
        super().__init__(daemon=True)
        self.pid, self.interval, self.limit = pid, interval, limit
        self.peak, self.stopped = 0, False

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
            while root.is_running() and root.status() != psutil.STATUS_ZOMBIE:
                tree = [root, *root.children(recursive=True)]
                total = 0
                for process in tree:
                    try:
                        total += process.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
                if self.limit is not None and total > self.limit:
                    for process in reversed(tree):
                        with contextlib.suppress(psutil.Error):
                            process.kill()
                    self.stopped = True
                    return
                time.sleep(self.interval)
        except psutil.NoSuchProcess:  # it ended between two samples
            return


def timed(command: list[str], env: dict, log: Path) -> dict:
    """Run `command` to its end; {"seconds", "peak_gb", "rc"}. Its output goes to `log`; past
    TIME_LIMIT its process tree is stopped and the benchmark ends naming the command."""
    started = time.perf_counter()
    with open(log, "a") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        watch = TreeWatch(process.pid)
        watch.start()
        try:
            rc = process.wait(timeout=TIME_LIMIT)
        except subprocess.TimeoutExpired:
            for child in [*psutil.Process(process.pid).children(recursive=True), process]:
                child.kill()
            raise SystemExit(f"{' '.join(command)} ran past {TIME_LIMIT:.0f} s and was stopped; see {log}") from None
        watch.join(timeout=5)
    return {"seconds": time.perf_counter() - started, "peak_gb": watch.peak / 1e9, "rc": rc}


def dataset(work: Path, size: str, types: list[str]) -> Path:
    from helpers.data import synth

    data = work / f"data-{size}"
    synth.generate(data, size=size, seed=0, types=types, progress=False)
    return data


def run_baseline(data: Path, out: Path, types: str, epochs: int, env: dict) -> dict:
    log = out / "baseline.log"
    train = timed([sys.executable, str(BASELINE), "train", "--data", str(data), "--model-dir", str(out / "model"),
                   "--epochs", str(epochs), "--types", types, "--verbose", "0"], env, log)
    test = timed([sys.executable, str(BASELINE), "test", "--data", str(data), "--model-dir", str(out / "model"),
                  "--result-dir", str(out / "result"), "--types", types], env, log)
    if train["rc"] or test["rc"]:
        raise SystemExit(f"the baseline's scripts failed; see {log}")
    table = pd.read_csv(out / "result" / "result.csv", header=None, names=["id", "AUC", "pAUC"], skip_blank_lines=True)
    averages = table[table["id"] == "Average"][["AUC", "pAUC"]].astype(float)
    return {"seconds": train["seconds"] + test["seconds"], "peak_gb": max(train["peak_gb"], test["peak_gb"]),
            "train_seconds": train["seconds"], "test_seconds": test["seconds"],
            "AUC": float(averages["AUC"].mean()), "pAUC": float(averages["pAUC"].mean())}


def run_toolkit(data: Path, out: Path, solution: str, types: str, epochs: int, env: dict) -> dict:
    env = {**env, "DCASE_CACHE_DIR": str(out / "cache")}  # a cold feature cache
    result = timed([sys.executable, "-m", "helpers", "run", "--solution", solution, "--dev-data", str(data),
                    "--result-dir", str(out / "result"), "--types", types, "--epochs", str(epochs)],
                   env, out / "toolkit.log")
    if result["rc"]:
        raise SystemExit(f"python -m helpers run failed; see {out / 'toolkit.log'}")
    from helpers.experiments import results

    run = out / "result" / solution
    table = results.read_result_csv(run / "result.csv")
    averages = table[table["section"] == "Average"]
    return {**result, "AUC": float(averages["AUC"].mean()), "pAUC": float(averages["pAUC"].mean()),
            "breakdown": breakdown(run, out / "result")}


def _stage(cell) -> str:
    tags = [t[len("stage-"):] for t in cell.metadata.get("tags", []) if t.startswith("stage-")]
    return tags[0] if tags else "other"


def training_seconds(summary: pd.DataFrame) -> float:
    """The training loops' wall time: their seconds summed, trainings side by side counted once
    (the longest of each group; train_summary.csv's side_by_side gives each group's size)."""
    total, row = 0.0, 0
    while row < len(summary):
        together = int(summary["side_by_side"].iloc[row]) if "side_by_side" in summary else 1
        total += float(summary["train_seconds"].iloc[row:row + together].fillna(0.0).max())
        row += together
    return total


def breakdown(run: Path, result_root: Path) -> pd.DataFrame:
    """Seconds per notebook and stage [columns=notebook, stage, seconds] from the executed notebooks."""
    rows = []
    executed = sorted((run / "notebooks").glob("*.ipynb")) + [result_root / "compare-solutions.ipynb"]
    training = training_seconds(pd.read_csv(run / "train_summary.csv"))
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        total = float(notebook.metadata.get("papermill", {}).get("duration") or 0.0)
        cells = [c for c in notebook.cells if c.cell_type == "code"]
        spent = {}
        for cell in cells:
            stage = _stage(cell)
            spent[stage] = spent.get(stage, 0.0) + float(cell.metadata.get("papermill", {}).get("duration") or 0.0)
        if "train" in spent:
            spent["features and fitting"] = spent.pop("train") - training
            spent["training loop"] = training
        spent["kernel start and shutdown"] = total - sum(spent.values())
        rows += [{"notebook": path.name, "stage": s, "seconds": v} for s, v in spent.items() if v > 0.005]
        rows.append({"notebook": path.name, "stage": "total", "seconds": total})
    return pd.DataFrame(rows)


SUMMARY = (("whole command [s]", "seconds"), ("peak memory, process tree [GB]", "peak_gb"),
           ("mean AUC over types", "AUC"), ("mean pAUC over types", "pAUC"))


def summary_rows(baseline: dict | None, toolkit: dict) -> list[list[str]]:
    """[figure, baseline, toolkit, ratio (time, memory) or difference (AUC, pAUC)] for each SUMMARY figure."""
    rows = []
    for label, key in SUMMARY:
        ours = toolkit[key]
        theirs = baseline[key] if baseline else float("nan")
        ratio = f"{ours / theirs:.2f}" if key in ("seconds", "peak_gb") and baseline else f"{ours - theirs:+.3f}"
        rows.append([label, f"{theirs:.3f}", f"{ours:.3f}", ratio])
    return rows


def stage_table(toolkit: dict) -> pd.DataFrame:
    """The toolkit's seconds per stage (rows) and notebook (columns), with a "total" row."""
    table = toolkit["breakdown"]
    notebooks = table[table["stage"] == "total"]
    pivot = table[table["stage"] != "total"].pivot_table(index="stage", columns="notebook", values="seconds",
                                                         aggfunc="sum", fill_value=0.0, sort=False)
    pivot.loc["total"] = notebooks.set_index("notebook")["seconds"]
    return pivot


def setting_text(args) -> str:
    return f"{args.size} synthetic data, types {args.types}, {args.epochs} epochs"


def report(baseline: dict | None, toolkit: dict, args) -> None:
    print(f"\n{args.solution} against the original baseline's scripts: {setting_text(args)} "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    print(f"{'':28}{'baseline':>12}{'toolkit':>12}{'ratio':>8}")
    for label, theirs, ours, ratio in summary_rows(baseline, toolkit):
        print(f"{label:28}{float(theirs):12.3f}{float(ours):12.3f}{ratio:>8}")
    if baseline:
        print(f"  baseline: train script {baseline['train_seconds']:.1f} s, test script {baseline['test_seconds']:.1f} s")
    pivot = stage_table(toolkit)
    print(f"\ntoolkit per notebook (the rest of the whole command: the command's start, "
          f"{toolkit['seconds'] - pivot.loc['total'].sum():.1f} s):")
    print(pivot.round(1).to_string())


def time_figure(baseline: dict | None, toolkit: dict, args):
    """The whole command's seconds, the baseline's two scripts against the toolkit's notebooks (and the
    command's own start), stacked; beside it, the peak memory of each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (times, memory) = plt.subplots(1, 2, figsize=(9, 3.4), width_ratios=(3, 1), layout="constrained")
    notebooks = stage_table(toolkit).loc["total"]
    parts = {"toolkit": [*notebooks.items(), ("the command's start", toolkit["seconds"] - notebooks.sum())]}
    if baseline:
        parts["baseline"] = [("00_train.py", baseline["train_seconds"]), ("01_test.py", baseline["test_seconds"])]
    colours = plt.get_cmap("tab20").colors
    for row, (way, pieces) in enumerate(parts.items()):
        left = 0.0
        for i, (name, seconds) in enumerate(pieces):
            times.barh(row, seconds, left=left, color=colours[(2 * i + 10 * row) % 20], edgecolor="white",
                       label=name.replace(".ipynb", ""))
            left += seconds
        times.text(left, row, f" {left:.0f} s", va="center", fontsize=8)
    times.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.28), frameon=False)
    times.set_yticks(range(len(parts)), list(parts))
    times.set_xlabel("seconds, whole command")
    times.set_xlim(0, 1.15 * max(toolkit["seconds"], baseline["seconds"] if baseline else 0))
    ways = [w for w in ("toolkit", "baseline") if w in parts]
    values = [toolkit["peak_gb"]] + ([baseline["peak_gb"]] if baseline else [])
    memory.barh(range(len(ways)), values, color=["#1b9e77", "#7570b3"][:len(ways)])
    for row, value in enumerate(values):
        memory.text(value, row, f" {value:.2f}", va="center", fontsize=8)
    memory.set_yticks(range(len(ways)), ways)
    memory.set_xlim(0, 1.3 * max(values))
    memory.set_xlabel("peak memory [GB]")
    figure.suptitle(f"{args.solution} against the original baseline's scripts: {setting_text(args)}", fontsize=10)
    return figure


def write_report(folder: Path, baseline: dict | None, toolkit: dict, args) -> Path:
    """The end-to-end page and figure (benchmarks/report.py) in `folder`."""
    pivot = stage_table(toolkit).round(1)
    stages = markdown_table(["stage", *[c.replace(".ipynb", "") for c in pivot.columns]],
                            [[stage, *[f"{v:.1f}" for v in values]] for stage, values in pivot.iterrows()])
    scripts = (f"The baseline's train script took {baseline['train_seconds']:.1f} s and its test script "
               f"{baseline['test_seconds']:.1f} s. " if baseline else "")
    body = "\n\n".join([
        f"`python -m helpers run --solution {args.solution}` against the original baseline's two scripts "
        f"(benchmarks/original_baseline.py), each a whole process from a cold start: {setting_text(args)}.",
        markdown_table(["figure", "baseline's scripts", args.solution, "ratio"], summary_rows(baseline, toolkit)),
        f"{scripts}The toolkit's seconds per notebook and stage (the rest of the whole command, "
        f"{toolkit['seconds'] - pivot.loc['total'].sum():.1f} s, is the command's own start):",
        stages])
    command = "python benchmarks/end_to_end.py " + " ".join(sys.argv[1:])
    return write(folder, "end-to-end", "End to end: the user's whole command against the original baseline's scripts",
                 command, body, time_figure(baseline, toolkit, args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solution", default="pytorch")
    parser.add_argument("--size", default="small", help="synthetic preset: tiny, small, medium (default small)")
    parser.add_argument("--types", default="fan,pump,valve")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--work", help="where the data is made (default: the cache's benchmark work folder)")
    parser.add_argument("--keep", help="keep both ways' runs (models, result files, logs) in this folder "
                                       "(default: a temporary folder, removed at the end)")
    parser.add_argument("--skip-baseline", action="store_true", help="the toolkit's figures only")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write the figures as a Markdown page and a figure into this folder "
                             "(end-to-end.md, end-to-end.png; make benchmark: docs/benchmarks)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from helpers.data import cache

    work = Path(args.work) if args.work else cache.work_folder("benchmark")
    data = dataset(work, args.size, args.types.split(","))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory(prefix="end-to-end-")) as scratch:
        scratch = Path(scratch)
        (scratch / "baseline").mkdir(parents=True)
        (scratch / "toolkit").mkdir()
        baseline = None if args.skip_baseline else run_baseline(data, scratch / "baseline", args.types, args.epochs, env)
        toolkit = run_toolkit(data, scratch / "toolkit", args.solution, args.types, args.epochs, env)
        report(baseline, toolkit, args)
        if args.report:
            print(f"wrote {write_report(args.report, baseline, toolkit, args)}")


if __name__ == "__main__":
    main()
