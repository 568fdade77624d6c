"""The command line: ``python -m helpers <command>``.

Commands: ``synth`` (make synthetic data of any edition, 2020-2026), ``download`` (the real DCASE data by year),
``table`` (print clip counts of a data folder), ``run`` (execute solutions' notebooks with
papermill; ``--eval-data`` for eval mode), ``demo`` (synthetic data, the overview, every
solution and the comparison), ``regress`` (check results against the committed table),
``cache`` (where the cache is and what it holds; prune or clear it), ``notebooks`` (render every
solution folder's notebooks from the template; ``--check`` only lists those that differ).
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import sys

from pathlib import Path

from helpers import frontend, machine, paths, threads
from helpers.errors import ConfigError, ToolkitError
from helpers.data.editions import YEARS


DEMO_EPOCHS = 10
DEMO_JOBS = min(2, threads.machine_cores())  # two notebooks at once: one alone left a quarter of two cores idle
# the machine types every solution of the demo trains on (of the six it makes): a toy and a real machine, 7 of the 23
# IDs, where the solutions differ most; "all": every type (about three times as long)
DEMO_TYPES = "ToyConveyor,valve"


def _types(text: str) -> list[str] | None:
    """--types as argparse reads it, once: the machine types of comma-separated text (None for none)."""
    return [t.strip() for t in text.split(",") if t.strip()] or None


def _synth(args) -> None:
    from helpers.data import synth

    if args.check_realism:
        return _check_realism(Path(args.out), Path(args.real))
    summary = synth.generate(args.out, size=args.size, seed=args.seed, types=args.types,
                             eval_layout=args.eval, workers=args.workers, year=args.year)
    print(f"wrote synthetic data to {args.out}: {summary}")


def _check_realism(data: Path, real: Path) -> None:
    """Print the realism figures of a synthetic folder's test clips against the real clips; ToolkitError
    naming each figure that lies too far (helpers.data.realism.departures)."""
    import pandas as pd

    from helpers.data import realism

    for folder, what in ((data, "--out"), (real, "--real")):
        if not folder.is_dir():
            raise ConfigError(f"{what} {folder} is not a folder; --check-realism reads the test clips of a "
                              f"synthetic data root (--out) and of real DCASE clips (--real)")
    clips = {name: realism.folder_clips(folder) for name, folder in (("synthetic", data), ("real", real))}
    for name, table in clips.items():
        if table.empty:
            raise ConfigError(f"no readable test clips under {data if name == 'synthetic' else real}; "
                              f"accepted: a data root laid out as a DCASE development set (<type>/test/*.wav)")
    table = realism.compare(clips["synthetic"], clips["real"])
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.precision", 2):
        for figures in (realism.FIGURES[1:], realism.CLIP_STATS):
            print(table[figures].to_string(), end="\n\n")
    print(f"real: {real} ({len(clips['real'])} clips); where it has one unit of a type, between/within is "
          f"{realism.REAL_BETWEEN_WITHIN:g} (helpers.data.realism.REAL_BETWEEN_WITHIN)")
    problems = realism.departures(table)
    if problems:
        raise ToolkitError(f"{len(problems)} figure(s) of {data} too far from the real clips:\n  " + "\n  ".join(problems))
    print(f"every figure of {data} lies within a factor of {realism.FACTOR:g} of the real clips' "
          f"(level within {realism.LEVEL_DB:g} dB, tilt within {realism.TILT_DB_PER_OCTAVE:g} dB/octave)")


def _download(args) -> None:
    from helpers.data import download

    summary = download.download(args.dest, args.eval_dest, types=args.types, dev=not args.no_dev,
                                additional=args.additional, evaluation=args.eval, server=args.server,
                                keep_archives=args.keep_archives, year=args.year)
    print(f"fetched {len(summary['fetched'])} archive(s), {summary['files']} file(s); "
          f"{len(summary['present'])} already present")


def _table(args) -> None:
    from helpers import skiplog
    from helpers.data import catalog

    print(catalog.count_table(catalog.clip_counts(catalog.file_table(args.data))).to_string())
    print(skiplog.summary())


def _selected_solutions(names: str | None) -> list:
    from helpers.detectors.solution import solution_folders

    folders = solution_folders(paths.NOTEBOOKS)
    if not names:
        return folders
    by_name = {f.name: f for f in folders}
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise ToolkitError(f"unknown solution(s) {unknown}; solutions under {paths.NOTEBOOKS}: {sorted(by_name)}")
    return [by_name[n] for n in wanted]


def _print_results(result_root, runs, year, seeds=None) -> None:
    """Print the official score per machine type of `runs` (with `seeds`: runs named by
    results.seeds_name, each the mean ± sd over its seeds' runs, every figure of which goes to <run>.csv)."""
    from helpers.data import editions
    from helpers.experiments import results
    from helpers.fileio import atomic_write_text

    summary = results.over_seeds(results.collect_results(result_root, year))
    summary = summary[summary["solution"].isin(runs)]
    ed = editions.edition(int(summary["year"].iloc[0]))
    spread = f", mean ± standard deviation over seeds {','.join(map(str, seeds))}" if seeds else ""
    print(f"\n{ed.name}: official score per machine type ({ed.rules.official_rule}{spread}):")
    print(results.official_text(summary).to_string())
    for run in runs if seeds else ():
        path = atomic_write_text(Path(result_root) / f"{run}.csv", summary[summary["solution"] == run].to_csv(index=False))
        print(f"every figure of {run}: mean and sd over its seeds in {path}")
    official = results.official_table(summary)
    undefined = [str(t) for t, row in official.iterrows() if row.isna().all()]
    if undefined:
        print(f"undefined: {', '.join(undefined)}: no AUC where a test set holds no normal or no anomalous clip "
              f"(per {ed.rules.group_word}; see each run's result.csv)")


def _run(args, before: tuple = ()) -> None:
    """Run the chosen solutions' notebooks, then the comparison; `before`: more tasks for
    runner.run_parallel, run first (or alongside, with --jobs above 1)."""
    from helpers.detectors import config
    from helpers.execution import runner
    from helpers.experiments import results

    folders = _selected_solutions(args.solution)
    if args.run_name and len(folders) != 1:
        raise ToolkitError(f"--run-name names the run of one solution; choose one with --solution "
                           f"(solutions: {', '.join(f.name for f in folders)})")
    for folder in folders:  # a back end that does not fit a solution's objective stops the command before any run
        config.load(folder / "config.yaml", {"scoring.backend": args.scoring_backend})
    seeds = args.seeds
    runs = [runner.default_run_name(folder, args.run_name, args.eval_data) for folder in folders]
    tasks = [*before, *(functools.partial(
        runner.run_solution, folder, args.dev_data, args.result_dir, args.types, args.epochs, args.retrain,
        args.timeout, eval_data=args.eval_data, ground_truth=args.ground_truth, idle_timeout=args.idle_timeout,
        scoring_backend=args.scoring_backend, year=args.year,
        **({"run_name": results.seed_run(run, seed), "extra": {"SEED": seed}} if seed is not None else {"run_name": run}))
        for folder, run in zip(folders, runs) for seed in (seeds or [None]))]
    runner.run_parallel(tasks, args.jobs)
    runner.run_comparison(args.result_dir, paths.NOTEBOOKS, args.timeout, args.idle_timeout, args.year)
    _print_results(args.result_dir, [results.seeds_name(run) for run in runs] if seeds else runs, args.year, seeds)
    print(f"\nexecuted notebooks and results under {args.result_dir}/")


def _demo(args) -> None:
    from helpers.data import synth
    from helpers.execution import runner

    data = Path(args.data)
    types = None if args.types == "all" else _types(args.types)
    if not data.is_dir() or not any(data.iterdir()):
        which = "" if types is None else f" of {' and '.join(types)} (`make data` writes every type)"
        print(f"making the {args.size} synthetic dataset{which} in {data} ...", flush=True)
        synth.generate(data, size=args.size, seed=0, types=types)
    overview = functools.partial(runner.run_overview, data, args.result_dir, paths.NOTEBOOKS, args.timeout,
                                 args.idle_timeout)
    print(f"demo: every solution on {'every machine type' if types is None else ' and '.join(types)} of {data} "
          f"(--types all: every type, about three times as long), {args.epochs} training epochs per model (the "
          f"published baseline trains 100; run `python -m helpers run --epochs 100` for the full recipe); "
          f"{args.jobs} notebook(s) at a time", flush=True)
    args.dev_data, args.solution, args.types, args.retrain = data, None, types, False
    args.eval_data = args.ground_truth = args.run_name = args.scoring_backend = args.year = args.seeds = None
    _run(args, before=(overview,))


def _integers(text: str, minimum: int, expected: str, distinct: bool = False) -> list[int]:
    """Integers separated by commas, each at least `minimum` (and all different when `distinct`);
    argparse's error saying `expected` otherwise."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if values and all(v >= minimum for v in values) and (not distinct or len(set(values)) == len(values)):
        return values
    raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}")


def _seed_list(text: str) -> list[int]:
    """--seeds: distinct integers ≥ 0 separated by commas."""
    return _integers(text, 0, "distinct training seeds (0 or more) separated by commas, e.g. 0,1,2", distinct=True)


def _core_list(text: str) -> list[int]:
    """--cores: positive integers separated by commas."""
    return _integers(text, 1, "positive numbers of cores separated by commas, e.g. 1,2")


def _regress(args) -> None:
    from helpers.execution import regression

    seeds = args.seeds or (
        list(regression.SEEDS) if args.update else [regression.SEEDS[0]])
    cores = args.cores or (list(regression.CORES) if args.update else [None])
    if args.update and len(seeds) < 2:
        raise ToolkitError(f"--update records the spread over seeds: give at least two (--seeds 0,1,2), got {seeds}")
    folders = _selected_solutions(args.solution)
    measured = regression.measure(folders, seeds=seeds, epochs=args.epochs, timeout=args.timeout,
                                  idle_timeout=args.idle_timeout, cores=cores)
    print(measured.round(4).to_string(index=False))
    if args.update:
        precisions = {folder.name: regression.precision_of(folder) for folder in folders}
        print(f"wrote {regression.write_expected(measured, precisions)}")
        return
    problems = regression.compare(measured, regression.read_expected())
    if problems:
        raise ToolkitError(f"{len(problems)} figure(s) outside the spread recorded in {regression.EXPECTED}:\n  "
                           + "\n  ".join(problems))
    print(f"all {2 * len(measured)} figures within the spread recorded in {regression.EXPECTED} "
          f"(on {machine.cpu_name()})")


def _cache(args) -> None:
    from helpers.data import cache
    from helpers.data.features import IMPLEMENTATION

    if args.max_size is not None and not args.prune:
        raise ToolkitError(f"--max-size goes with --prune: python -m helpers cache --prune --max-size {args.max_size}")
    home, origin = cache.where()
    if home is None:
        print(f"cache: {origin}; nothing to show or remove")
        return
    if args.clear:
        removed = cache.clear(home)
        for name, (files, size) in removed.items():
            print(f"removed {name}/: {files} file(s), {cache.format_size(size)}")
        print(f"freed {cache.format_size(sum(size for _, size in removed.values()))} in {home}")
    elif args.prune:
        limit = cache.max_size() if args.max_size is None else cache.parse_size(args.max_size, "--max-size")
        removed = cache.prune(home, limit, IMPLEMENTATION)
        for what, entries in removed.items():
            print(f"{what}: removed {len(entries)} ({cache.format_size(sum(e.bytes for e in entries))})")
        freed = sum(e.bytes for entries in removed.values() for e in entries)
        print(f"freed {cache.format_size(freed)} in {home}")
    else:
        print("\n".join(cache.describe(cache.survey(home, IMPLEMENTATION), origin, cache.max_size())))


def _notebooks(args) -> None:
    from helpers.execution import notebooks

    folders = _selected_solutions(args.solution)
    if args.check:
        stale = notebooks.differences(folders)
        if stale:
            raise ToolkitError(notebooks.stale_message(stale))
        print(f"the notebooks of {len(folders)} solution folder(s) are as the template renders them")
        return
    written = notebooks.write(folders)
    for path in written:
        print(f"wrote {notebooks.shown(path)}")
    print(f"{len(written)} notebook(s) rewritten; the notebooks of {len(folders)} solution folder(s) are as the "
          f"template renders them")


def _add_notebook_options(command: argparse.ArgumentParser) -> None:
    """The options of every command that runs notebooks: time limits and the frameworks' logs."""
    from helpers.execution.runner import CELL_TIMEOUT, IDLE_TIMEOUT, TRAINING_CELL_TIMEOUT

    command.add_argument("--framework-logs", action="store_true",
                         help="also show TensorFlow's own log lines (hidden by default: on a machine without a GPU "
                              "they include an error line about CUDA that is no error of the run)")
    command.add_argument("--timeout", type=float, default=None,
                         help=f"limit in seconds for each notebook cell (default: {TRAINING_CELL_TIMEOUT / 3600:.0f} h "
                              f"in training notebooks, {CELL_TIMEOUT / 60:.0f} min elsewhere)")
    command.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT,
                         help=f"stop a kernel that uses no CPU for this many seconds while a cell runs "
                              f"(default: {IDLE_TIMEOUT:.0f}; 0: never)")


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"--jobs takes a whole number of notebooks at a time, at least 1; got {text!r}")
    return jobs


def _add_jobs(command: argparse.ArgumentParser, default: int) -> None:
    command.add_argument("--jobs", type=_jobs, default=default,
                         help=f"solutions run side by side, their kernels sharing the cores (default: {default}; "
                              f"figures can then differ in the last bits, as on another CPU)")


def build_parser() -> argparse.ArgumentParser:
    from helpers.detectors import scoring

    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="write a synthetic dataset in the layout of a DCASE edition (default 2020)")
    synth.add_argument("--out", default=str(paths.DEV_DATA), help="data root to write (default: dev_data)")
    synth.add_argument("--size", default="small", help="preset: tiny, small, medium or full (default: small)")
    synth.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes")
    synth.add_argument("--types", type=_types,
                       help="comma-separated machine types (default: every development type of the year)")
    synth.add_argument("--year", type=int, choices=YEARS, default=2020,
                       help="the DCASE edition whose layout, sections and domains to write (default: 2020)")
    synth.add_argument("--eval", action="store_true", help="write the eval-shaped tree instead of the dev tree")
    synth.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    synth.add_argument("--check-realism", action="store_true",
                       help="write nothing: print how far apart the test clips of --out lie (within a unit, between "
                            "units, anomalous against normal) and their level and spectrum, against --real")
    synth.add_argument("--real", default=str(paths.REAL_SAMPLES),
                       help="real DCASE clips for --check-realism (default: ../shared/real_samples)")
    synth.set_defaults(func=_synth)

    download = commands.add_parser("download", help="fetch the real DCASE data of one edition from Zenodo")
    download.add_argument("--dest", default=str(paths.DEV_DATA), help="dev data root (default: dev_data)")
    download.add_argument("--eval-dest", default=str(paths.EVAL_DATA),
                          help="eval data root for --additional and --eval (default: eval_data)")
    download.add_argument("--types", type=_types,
                          help="comma-separated machine types (default: every type of each set asked for)")
    download.add_argument("--year", type=int, choices=YEARS, default=2020, help="the DCASE edition (default: 2020)")
    download.add_argument("--additional", action="store_true", help="also the additional training data (eval IDs)")
    download.add_argument("--eval", action="store_true", help="also the evaluation test data and its ground truth")
    download.add_argument("--no-dev", action="store_true", help="skip the development data")
    download.add_argument("--keep-archives", action="store_true", help="keep the verified zip archives")
    download.add_argument("--server", default="https://zenodo.org", help="Zenodo or a mirror (default: zenodo.org)")
    download.set_defaults(func=_download)

    table = commands.add_parser("table", help="print clip counts per machine type, split, ID and label")
    table.add_argument("--data", default=str(paths.DEV_DATA), help="data root (default: dev_data)")
    table.set_defaults(func=_table)

    run = commands.add_parser("run", help="run solutions end to end by executing their notebooks with papermill")
    run.add_argument("--solution", help="comma-separated solution folders under notebooks/ (default: all)")
    run.add_argument("--dev-data", default=str(paths.DEV_DATA), help="data root (default: dev_data)")
    run.add_argument("--result-dir", default=str(paths.RESULT), help="result root (default: result)")
    run.add_argument("--types", type=_types, help="comma-separated machine types (default: every type in the data)")
    run.add_argument("--epochs", type=int, help="training epochs (default: each config.yaml)")
    run.add_argument("--retrain", action="store_true", help="train again even if a model with the same settings exists")
    run.add_argument("--scoring-backend", choices=scoring.backends(),
                     help="every notebook's SCORING_BACKEND: the objective's own score (mse for reconstruction, nll for "
                          "machine_id) or a density back end fitted after training (default: each config.yaml's "
                          "scoring.backend); the run keeps its name, reuses its trained models and replaces its scores")
    run.add_argument("--run-name", help="the run's result folder under --result-dir (one solution only; default: the "
                                        "solution's name, <solution>-eval in eval mode)")
    run.add_argument("--seeds", type=_seed_list,
                     help="train once per seed (e.g. 0,1,2; runs <run>-seed<N>) and report each figure's mean and "
                          "standard deviation over them (<run>-seeds.csv; the comparison draws error bars)")
    _add_notebook_options(run)
    _add_jobs(run, 1)
    run.add_argument("--eval-data", help="eval mode: the eval data root (additional training data in <type>/train, "
                                         "eval test clips in <type>/test); runs are named <solution>-eval")
    run.add_argument("--year", type=int, choices=YEARS, help="the data's DCASE edition (default: detected from the "
                                                              "data folder: its names, folders and .dcase_year)")
    run.add_argument("--ground-truth", help="eval mode: the ground-truth list (default: <eval data>/eval_data_list.csv "
                                            "if present; without one, scores only)")
    run.set_defaults(func=_run)

    demo = commands.add_parser("demo", help="make synthetic data if needed, then run the overview, all solutions and the comparison")
    demo.add_argument("--data", default=str(paths.DEV_DATA), help="data root (default: dev_data)")
    demo.add_argument("--size", default="small", help="synthetic preset if the data folder is empty (default: small)")
    demo.add_argument("--result-dir", default=str(paths.RESULT), help="result root (default: result)")
    demo.add_argument("--epochs", type=int, default=DEMO_EPOCHS, help=f"training epochs (default: {DEMO_EPOCHS})")
    demo.add_argument("--types", default=DEMO_TYPES,
                      help=f"comma-separated machine types every solution trains on, or 'all' (default: {DEMO_TYPES})")
    _add_notebook_options(demo)
    _add_jobs(demo, DEMO_JOBS)
    demo.set_defaults(func=_demo)

    regress = commands.add_parser("regress", help="rerun solutions on fixed synthetic data; fail if a figure leaves its seed spread")
    regress.add_argument("--solution", help="comma-separated solutions (default: all)")
    regress.add_argument("--seeds", type=_seed_list,
                         help="comma-separated training seeds (default: 0 to check, 0,1,2 with --update)")
    regress.add_argument("--update", action="store_true", help="rewrite the expected spreads from the new runs")
    regress.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10; the table is for 10)")
    regress.add_argument("--cores", type=_core_list,
                         help="comma-separated numbers of cores the kernels use, e.g. 1,2 (default: all this machine "
                              "has to check, 1,2 with --update)")
    _add_notebook_options(regress)
    regress.set_defaults(func=_regress)

    cache = commands.add_parser("cache", help="show where the cache is and what it holds (default), prune or clear it")
    action = cache.add_mutually_exclusive_group()
    action.add_argument("--info", action="store_true",
                        help="where the cache is and why, entries and sizes per kind, stale entries, the size limit")
    action.add_argument("--prune", action="store_true",
                        help="remove stale entries and those of unknown source (then evict down to the size limit)")
    action.add_argument("--clear", action="store_true", help="remove every entry and work folder of the cache")
    cache.add_argument("--max-size", metavar="SIZE",
                       help="with --prune: evict the least recently used feature entries until they fit in SIZE "
                            "(500M, 2G, 1.5GB or bytes; default: DCASE_CACHE_MAX_SIZE if set)")
    cache.set_defaults(func=_cache)

    notebooks = commands.add_parser("notebooks", help="render every solution folder's notebooks from the template and "
                                                      "its config.yaml, rewriting those that differ")
    notebooks.add_argument("--check", action="store_true",
                           help="write nothing; exit with status 2, listing each notebook that differs")
    notebooks.add_argument("--solution", help="comma-separated solution folders under notebooks/ (default: all)")
    notebooks.set_defaults(func=_notebooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    if getattr(args, "framework_logs", False):  # the kernels started from here inherit it
        os.environ[frontend.NATIVE_LOGS_VARIABLE] = "1"
    try:
        args.func(args)
    except ToolkitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
