"""The original DCASE 2020 baseline's way against this project's way, on the same data, in one run.

    python benchmarks/baseline_vs_toolkit.py [--type fan] [--size medium] [--epochs 10] [--full] [--work DIR]

Each way runs in its own child process, watched by this one for its peak resident memory (and
stopped when it passes --memory-limit-gb, which is then reported instead of taking the machine
down). Ways:
- baseline: the yardstick, written here as the official scripts do it: per-file librosa log-mel
  stacked by a Python loop into one float64 array, Keras ``fit`` on it with validation_split,
  one ``predict`` per test clip.
- keras: the `original` solution's own code path (feature cache, batches built from the log-mel,
  batched scoring), same network and recipe.
- torch: the `pytorch` solution's code path through Lightning, plus a bare PyTorch loop over the
  same batches to measure Lightning's overhead.
Figures: feature extraction (cold cache, then warm), training seconds per epoch (the fastest
after the first, which includes graph building), test scoring, peak memory, and the AUC of each.
--full adds the memory run at full development-set size: ToyCar, 4,000 training clips of 11 s.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the benchmarks folder, however this file is run

import original_baseline as original  # noqa: E402  the baseline's features, network and scoring: one implementation
from end_to_end import TreeWatch  # noqa: E402  the process-tree memory sampler of both benchmarks
from report import markdown_table, write  # noqa: E402  the reports of both benchmarks


def default_work() -> Path:
    """Where the synthetic data sets are made: the cache's benchmark folder (helpers.data.cache)."""
    from helpers.data import cache

    return cache.work_folder("benchmark")


# ---------------------------------------------------------------- the ways (run in children)

class EpochTimer:
    def __init__(self):
        self.times, self.started = [], None

    def start(self):
        self.started = time.perf_counter()

    def stop(self):
        self.times.append(time.perf_counter() - self.started)

    def per_epoch(self) -> float:
        """The fastest epoch after the first (which builds graphs and warms caches): on a shared
        machine the least disturbed measurement, as timeit takes the minimum."""
        return min(self.times[1:] or self.times)


def run_baseline(job: dict) -> dict:
    """The baseline's way (benchmarks/original_baseline.py's pieces) in this process, timed per stage."""
    import keras

    from helpers.metrics import auc_pauc

    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    data = original.list_to_vector_array(job["train"], **original.FEATURE)
    feature_seconds = time.perf_counter() - started
    model = original.build_model(data.shape[1])
    model.compile(**original.COMPILE)
    timer = EpochTimer()
    callback = keras.callbacks.LambdaCallback(on_epoch_begin=lambda *_: timer.start(), on_epoch_end=lambda *_: timer.stop())
    model.fit(data, data, **{**original.FIT, "epochs": job["epochs"]}, verbose=0, callbacks=[callback])
    result = {"features_cold": feature_seconds, "epoch": timer.per_epoch(), "vectors": len(data)}
    if job.get("test"):
        started = time.perf_counter()
        scores = [original.clip_score(model, path) for path in job["test"]]
        result["scoring"] = time.perf_counter() - started
        result["auc"] = auc_pauc(job["labels"], scores)[0]
    return result


def run_toolkit(job: dict, solution_name: str) -> dict:
    from helpers.data import featurecache
    from helpers.detectors import detector, scoring, solution
    from helpers.experiments import pipeline
    from helpers.metrics import auc_pauc

    sol = solution.load(ROOT / "notebooks" / solution_name, {"training.epochs": job["epochs"]})
    cache = Path(job["cache"])
    started = time.perf_counter()
    mels = featurecache.log_mels(job["train"], sol.features, cache_dir=cache, progress=False)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    mels = featurecache.log_mels(job["train"], sol.features, cache_dir=cache, progress=False)
    warm = time.perf_counter() - started
    log_mels = [mels[p] for p in job["train"]]
    train, held = pipeline.split_validation(log_mels, 0.1)
    train_items = pipeline.make_items(sol, [log_mels[i] for i in train], True)
    val_items = pipeline.make_items(sol, [log_mels[i] for i in held], True)
    engine = detector.engine(sol)
    timer = EpochTimer()

    class Timed:
        def update(self, history):
            timer.stop()
            timer.start()

    timer.start()
    model, _ = detector.trainer(sol).train(sol, train_items, val_items, cache / "logs", "bench", Timed())
    result = {"features_cold": cold, "features_warm": warm, "epoch": timer.per_epoch(), "vectors": len(train_items)}
    if solution_name == "pytorch":
        result["bare_epoch"] = bare_torch_epoch(sol, train_items, val_items, job["epochs"])
    if job.get("test"):
        started = time.perf_counter()
        test_mels = featurecache.log_mels(job["test"], sol.features, cache_dir=cache, progress=False)
        items = pipeline.make_items(sol, [test_mels[p] for p in job["test"]], training=False)
        errors = scoring.item_outputs(engine, model, items, sol.objective, sol.config["scoring"]["batch_size"]).scores
        scores = scoring.clip_scores(errors, items.clip_of, len(job["test"]))
        result["scoring"] = time.perf_counter() - started
        result["auc"] = auc_pauc(job["labels"], scores)[0]
    return result


def bare_torch_epoch(sol, items, val_items, epochs: int) -> float:
    """Seconds per epoch of a plain PyTorch loop over the same batches, network and validation, in the
    precision the Lightning run resolved (bf16 autocast where trainer.precision resolves to bf16-mixed)."""
    import torch

    from helpers.detectors import torch_backend, torch_training
    from helpers.detectors.torch_backend import loader

    torch.manual_seed(0)
    net = sol.build_model()
    optimiser = torch_backend.optimiser(net, sol.config["training"]["learning_rate"])
    bf16 = torch_training.resolved_precision(sol.config["trainer"]) == "bf16-mixed"
    timer = EpochTimer()
    for _ in range(epochs):
        timer.start()
        net.train()
        for batch, target in loader(items, 512, True, sol.objective):
            optimiser.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss, _ = torch_backend.network_loss(net, batch, target, sol.objective)
            loss.backward()
            optimiser.step()
        net.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for batch, target in loader(val_items, 512, False, sol.objective):
                torch_backend.network_loss(net, batch, target, sol.objective)
        timer.stop()
    return timer.per_epoch()


WAYS = {"baseline": run_baseline, "keras": lambda job: run_toolkit(job, "original"),
        "torch": lambda job: run_toolkit(job, "pytorch")}


# ---------------------------------------------------------------- the orchestrator

def watch(way: str, job: dict, limit_gb: float) -> dict:
    """Run one way in a child process; return its figures with its peak memory (or why it stopped).

    The child's feature cache and logs go into a temporary folder removed when it ends.
    """
    with tempfile.TemporaryDirectory() as tmp:
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job_path.write_text(json.dumps({**job, "cache": str(Path(tmp) / "cache")}))
        child = subprocess.Popen([sys.executable, __file__, "--child", way, str(job_path), str(out_path)],
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, stderr=subprocess.DEVNULL)
        tree = TreeWatch(child.pid, limit=limit_gb * 2 ** 30)
        tree.start()
        child.wait()
        tree.join(timeout=5)
        peak = tree.peak
        if tree.stopped:
            return {"peak_gb": peak / 2 ** 30, "stopped": f"stopped: passed the {limit_gb:.1f} GB memory limit"}
        if child.returncode != 0 or not out_path.is_file():
            return {"peak_gb": peak / 2 ** 30, "stopped": f"stopped: exited with code {child.returncode}"}
        return {**json.loads(out_path.read_text()), "peak_gb": peak / 2 ** 30}


def dataset(work: Path, machine_type: str, size: str) -> tuple[list[str], list[str], list[int]]:
    from helpers.data import layout, synth

    root = work / f"{size}-{machine_type}"
    synth.generate(root, size=size, types=[machine_type], progress=True)
    train = [str(c.path) for c in layout.list_clips(root, machine_type, "train")]
    test = layout.list_clips(root, machine_type, "test")
    return train, [str(c.path) for c in test], [c.label for c in test]


def fmt(value, unit="") -> str:
    return "—" if value is None else f"{value:.3g}{unit}" if isinstance(value, float) else str(value)


FIGURES = [("feature extraction, cold [s]", "features_cold"), ("feature extraction, warm cache [s]", "features_warm"),
           ("training per epoch [s]", "epoch"), ("test scoring [s]", "scoring"), ("peak memory [GB]", "peak_gb"),
           ("AUC", "auc")]
HEADER = ["figure", "baseline", "keras", "ratio", "torch", "ratio"]


def ratio_of(results: dict, way: str, key: str) -> float | None:
    """A way's figure against the baseline's: a ratio (the warm cache against the baseline's cold
    extraction), for the AUC a difference."""
    value, base = results[way].get(key), results["baseline"].get(key if key != "features_warm" else "features_cold")
    if value is None or not base:
        return None
    return value - base if key == "auc" else value / base


def table_rows(results: dict) -> list[list[str]]:
    """The figures of every way with each toolkit way's ratio to the baseline: [HEADER-shaped rows]."""
    rows = []
    for label, key in FIGURES:
        row = [label, fmt(results["baseline"].get(key))]
        for way in ("keras", "torch"):
            ratio = ratio_of(results, way, key)
            row += [fmt(results[way].get(key)), ("Δ" if key == "auc" and ratio is not None else "") + fmt(ratio)]
        rows.append(row)
    return rows


def notes(results: dict) -> list[str]:
    """The lines below the table: Lightning's overhead over a bare loop, the warm cache's speed-up."""
    torch_run, lines = results["torch"], []
    if "bare_epoch" in torch_run:
        lines.append(f"Lightning overhead: {torch_run['epoch']:.3g} s per epoch against {torch_run['bare_epoch']:.3g} s "
                     f"for a bare PyTorch loop ({torch_run['epoch'] / torch_run['bare_epoch']:.2f}x)")
    if "features_warm" in torch_run:
        lines.append(f"warm cache: feature stage {torch_run['features_cold'] / torch_run['features_warm']:.0f}x faster than cold")
    return lines


WIDTHS = (38, 10, 10, 7, 10, 7)  # the printed table's columns


def report(results: dict) -> None:
    for row in [HEADER, *table_rows(results)]:
        print(f"{row[0]:{WIDTHS[0]}s} " + " ".join(f"{cell:>{width}s}" for cell, width in zip(row[1:], WIDTHS[1:])))
    for line in notes(results):
        print(f"\n{line}" if line.startswith("Lightning") else line)


def ratio_figure(results: dict, title: str):
    """Each toolkit way's time and memory as a fraction of the baseline's, one bar per figure and way."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figures = [(label, key) for label, key in FIGURES if key != "auc"]
    figure, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    positions = np.arange(len(figures))
    for offset, way, colour in ((-0.2, "keras", "#d95f02"), (0.2, "torch", "#1b9e77")):
        values = [ratio_of(results, way, key) or np.nan for _, key in figures]
        bars = ax.barh(positions + offset, values, height=0.38, color=colour, label=f"{way} ÷ baseline")
        ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.2g}" for v in values], padding=3, fontsize=8)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(positions, [label for label, _ in figures])
    ax.invert_yaxis()
    ax.set_xlabel("ratio to the original baseline's way (below 1: faster, or less memory)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2, frameon=False)
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", default="fan", help="machine type of the synthetic data (default: fan)")
    parser.add_argument("--size", default="medium",
                        help="synthetic preset (default: medium, a quarter of the real training set per ID)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs of every way (default: 10)")
    parser.add_argument("--full", action="store_true", help="add the memory run on ToyCar at full size (4,000 clips)")
    parser.add_argument("--memory-limit-gb", type=float, default=psutil.virtual_memory().total / 2 ** 30 * 0.6,
                        help="stop a way whose memory passes this (default: 60 %% of this machine's memory)")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write the figures as a Markdown page and a figure into this folder "
                             "(stages.md, stages.png; make benchmark: docs/benchmarks)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the synthetic data (default: the cache's benchmark folder, "
                             "$DCASE_CACHE_DIR/benchmark if set, else .cache/benchmark in the repository)")
    args = parser.parse_args()
    args.work = args.work or default_work()
    print(f"machine: {platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2 ** 30:.0f} GB; python {platform.python_version()}")
    train, test, labels = dataset(args.work, args.type, args.size)
    job = {"train": train, "test": test, "labels": labels, "epochs": args.epochs}
    data = f"{args.type}, {len(train)} training and {len(test)} test clips ({args.size} preset); {args.epochs} epochs"
    print(f"data: {data}")
    results = {way: watch(way, job, args.memory_limit_gb) for way in WAYS}
    report(results)
    full = []
    if args.full:
        train, _, _ = dataset(args.work, "ToyCar", "full")
        job = {"train": train, "epochs": 1}
        full.append(f"full size: ToyCar, {len(train)} training clips of 11 s, 1 epoch, memory limit "
                    f"{args.memory_limit_gb:.1f} GB")
        print(f"\n{full[0]}")
        for way in ("baseline", "torch"):
            outcome = watch(way, job, args.memory_limit_gb)
            done = (f"finished: features {outcome['features_cold']:.0f} s, one epoch {outcome['epoch']:.0f} s, "
                    f"{outcome['vectors']:,} training vectors") if "stopped" not in outcome else outcome["stopped"]
            full.append(f"{way}: peak {outcome['peak_gb']:.2f} GB, {done}")
            print(f"  {way:9s} peak {outcome['peak_gb']:.2f} GB  {done}")
    if args.report:
        body = "\n\n".join([f"Data: {data}.", markdown_table(HEADER, table_rows(results)), *notes(results),
                             *(["- " + line for line in full] if full else [])])
        command = "python benchmarks/baseline_vs_toolkit.py " + " ".join(sys.argv[1:])
        page = write(args.report, "stages", "Stage by stage: the original baseline's way against the toolkit's",
                     command, body, ratio_figure(results, f"{data}"))
        print(f"wrote {page}")

if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _, _, way, job_file, out_file = sys.argv
        Path(out_file).write_text(json.dumps(WAYS[way](json.loads(Path(job_file).read_text()))))
    else:
        main()
