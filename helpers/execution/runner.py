"""Executing notebooks headless with papermill, so that every run ends, and says how.

- Every parameter passed must exist in the notebook's ``parameters`` cell: a misspelt name is
  an error, not a silently ignored value.
- The kernels started here are marked headless (:mod:`helpers.frontend`): nothing in them
  waits on a frontend that is not there (no widgets).
- Every cell has a time limit: `timeout` seconds if given, else :func:`default_timeout` (the
  training notebook's cells 12 hours, every other cell 30 minutes).
- A solution's notebooks are found by their roles (helpers.execution.notebooks: train, test, visualize),
  not by their file names.
- A watchdog stops a kernel that used no CPU for `idle_timeout` seconds (default 180) while a
  cell was running: a kernel that went idle without replying. nbclient notices a dead kernel.
  Each kernel carries a mark of its own on its command line, so that its watchdog watches it
  and no other when several notebooks run at once (:func:`run_parallel`, whose kernels share
  the cores through helpers.threads).
- The kernel is stopped at once when the last cell has run (the executed copy is complete by
  then; a graceful shutdown waits about a second per notebook for nothing).
- Whatever ends a run early (an error in a cell, a time limit, the watchdog, a dead kernel)
  raises :class:`NotebookRunError` naming the notebook, the cell and what happened, and the
  executed copy is kept beside the would-be output as ``<name>.failed.ipynb``.
"""
from __future__ import annotations

import _thread
import contextlib
import csv
import io
import json
import sys
import threading
import time
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable

import psutil

from helpers import frontend, recording, threads
from helpers.execution import notebooks
from helpers.errors import ConfigError, ToolkitError
from helpers.fileio import atomic_path, atomic_write_text

# after helpers.execution.notebooks, which keeps jsonschema's slow optional grammar out of this process
import nbformat
import papermill
from nbclient.exceptions import CellTimeoutError, DeadKernelError

TRAINING_CELL_TIMEOUT = 12 * 3600.0
CELL_TIMEOUT = 30 * 60.0
IDLE_TIMEOUT = 180.0
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]  # not its transport warning on every start
NAMED_FILES = 3  # skipped or converted files named after a notebook; every one is in the list it names
IDLE_CPU_SHARE = 0.01  # a kernel tree using less than 1 % of one core over the idle window is idle


class NotebookRunError(ToolkitError):
    """A headless notebook run ended early; the message names the notebook, the cell and why."""


def default_timeout(notebook: str | Path) -> float:
    """Seconds each cell of `notebook` may run: 12 hours for a notebook with the role train
    (helpers.execution.notebooks.role_of), else 30 minutes."""
    return TRAINING_CELL_TIMEOUT if notebooks.role_of(notebook) == "train" else CELL_TIMEOUT


def notebook_parameters(path: str | Path) -> dict:
    """The names declared in the notebook's ``parameters`` cell, with their default values as text."""
    return {name: spec["default"] for name, spec in papermill.inspect_notebook(str(path)).items()}


def check_parameters(path: str | Path, parameters: dict) -> None:
    """Raise ConfigError naming each passed parameter that the notebook does not declare."""
    declared = notebook_parameters(path)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ConfigError(f"{path}: unknown parameter(s) {unknown}; the notebook accepts {sorted(declared)}")


def _tree_cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds used by `process` and its descendants, the finished ones included."""
    total = 0.0
    try:
        tree = [process, *process.children(recursive=True)]
    except psutil.Error:  # the kernel has gone
        return total
    for proc in tree:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def kernels(marker: str = "") -> list[psutil.Process]:
    """The notebook kernels this process started (those whose command line holds `marker`)."""
    found = []
    for child in psutil.Process().children():
        try:
            command = child.cmdline()
        except psutil.Error:
            continue
        if any("ipykernel" in part for part in command) and (not marker or marker in command):
            found.append(child)
    return found


class KernelWatchdog(threading.Thread):
    """Stops the kernel started with `marker` on its command line if it stays idle for `idle_seconds`
    while a cell runs.

    Idle: the kernel and its child processes together used under IDLE_CPU_SHARE of one core over
    the last `idle_seconds`. The kernel's process tree is killed, which nbclient reports as a
    dead kernel; if papermill still has not returned a minute later, the main thread is
    interrupted. `reason` says what happened (None while nothing did).
    """

    def __init__(self, idle_seconds: float, marker: str, poll_seconds: float = 1.0):
        super().__init__(daemon=True, name="kernel-watchdog")
        self.idle_seconds, self.marker, self.poll_seconds = idle_seconds, marker, poll_seconds
        self.reason: str | None = None
        self._done = threading.Event()

    def run(self) -> None:
        kernel, samples = None, deque()  # (time, CPU seconds), reaching back idle_seconds
        while not self._done.wait(self.poll_seconds):
            if kernel is None:
                kernel = next(iter(kernels(self.marker)), None)
                continue
            if not kernel.is_running():
                return  # shut down, or died: nbclient reports that
            now = time.monotonic()
            samples.append((now, _tree_cpu_seconds(kernel)))
            while len(samples) > 1 and samples[1][0] <= now - self.idle_seconds:
                samples.popleft()
            since, cpu = samples[0]
            if now - since >= self.idle_seconds and samples[-1][1] - cpu < IDLE_CPU_SHARE * (now - since):
                self.reason = (f"the kernel went idle without replying: no CPU used for {now - since:.0f} s "
                               f"while the cell was running, so the watchdog stopped it (idle_timeout / "
                               f"--idle-timeout for a cell that waits on purpose)")
                self._kill(kernel)
                if not self._done.wait(60):
                    _thread.interrupt_main()
                return

    @staticmethod
    def _kill(kernel: psutil.Process) -> None:
        kill_tree(kernel)

    def stop(self) -> None:
        self._done.set()


_budget: threads.Budget | None = None  # while run_parallel shares the cores out among the kernels


@contextlib.contextmanager
def _kernel_running():
    """Count the kernel started inside this block in the cores' budget while run_parallel shares them."""
    budget = _budget
    if budget is None:
        yield
        return
    budget.started()
    try:
        yield
    finally:
        budget.ended()


def files_report(executed: Path) -> str:
    """What an executed notebook recorded of its files (helpers.skiplog.report), for the command line:
    per kind (skipped, converted) the count and the first NAMED_FILES with their reasons, every one
    listed in <notebook>.files.csv beside it; then each notice. "" when it recorded nothing."""
    recorded = recording.recorded_files(executed) or {}
    listing = executed.with_suffix(".files.csv")
    lines, rows = [], []
    for kind in ("skipped", "converted"):
        files = recorded.get(kind) or []
        if files:
            lines.append(f"  {len(files)} file(s) {kind}" + (f" (all in {listing})" if len(files) > NAMED_FILES else "")
                         + ":")
            lines += [f"    {f['path']}: {f['reason']}" for f in files[:NAMED_FILES]]
            rows += [(kind, f["path"], f["reason"]) for f in files]
    lines += [f"  notice: {n}" for n in recorded.get("notices") or []]
    if rows:
        buffer = io.StringIO()
        csv.writer(buffer).writerows([("kind", "path", "reason"), *rows])
        atomic_write_text(listing, buffer.getvalue())
    return "\n".join(lines)


def _finished(started: float, executed: Path) -> str:
    """What the progress line says once a notebook ends: its seconds, then its files_report."""
    return "\n".join(filter(None, [f"{time.perf_counter() - started:.1f} s", files_report(executed)]))


def _say(started: str, finished: str | None = None) -> None:
    """One progress line: "running ... 12.3 s" when notebooks run one at a time; a line at the start
    and one at the end of each notebook while several run at once."""
    if _budget is not None:  # whole lines, each in one write: threads cannot cut into each other's lines
        print(f"{started} ...\n" if finished is None else f"{started}: {finished}\n", end="", flush=True)
    elif finished is None:
        print(f"{started} ...", end=" ", flush=True)
    else:
        print(finished, flush=True)


def run_parallel(tasks: list[Callable[[], object]], jobs: int = 1) -> list:
    """Call `tasks` (each runs notebooks through this module), up to `jobs` at once, in their
    order; returns their results, in that order.

    `jobs` 1: one after the other. Above 1: each task in a thread of its own, and the kernels
    share the cores (helpers.threads: the cores divided by the kernels running, updated as
    they start and end). When a task fails, no further task starts, those running finish, and
    the first error is raised (any others are printed first). Ctrl-C kills the running kernels,
    so every task ends at once.
    """
    global _budget
    if jobs <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    if _budget is not None:
        raise ToolkitError("run_parallel does not nest: a task of it called it again")
    results, errors, running = {}, [], {}
    waiting = list(enumerate(tasks))
    with threads.sharing() as _budget:
        try:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebooks") as pool:
                while running or (waiting and not errors):
                    while waiting and not errors and len(running) < jobs:
                        index, task = waiting.pop(0)
                        running[pool.submit(task)] = index
                    try:
                        done, _ = wait(running, return_when=FIRST_COMPLETED)
                    except KeyboardInterrupt:
                        for kernel in kernels():
                            kill_tree(kernel)
                        raise
                    for future in done:
                        index = running.pop(future)
                        if future.exception() is not None:
                            errors.append(future.exception())
                        else:
                            results[index] = future.result()
        finally:
            _budget = None
    for err in errors[1:]:
        print(f"also failed: {err}", file=sys.stderr, flush=True)
    if errors:
        raise errors[0]
    return [results[index] for index in range(len(tasks))]


def kill_tree(process: psutil.Process) -> None:
    """Kill `process` and its descendants (those already gone are skipped)."""
    try:
        tree = [*process.children(recursive=True), process]
    except psutil.Error:
        return
    for proc in tree:
        try:
            proc.kill()
        except psutil.Error:
            pass


def _describe_cell(executed: Path) -> str:
    """'cell N of M (id: "first line")' for the last cell that started in a partly executed copy,
    numbered as in the source notebook (without the cells papermill inserts)."""
    try:
        cells = nbformat.read(executed, as_version=4).cells
    except Exception:  # no copy was written: the kernel never started
        cells = []
    tags = [set(c.get("metadata", {}).get("tags", [])) for c in cells]
    started = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return "before the first cell (the kernel did not start)"
    if "injected-parameters" in tags[started[-1]]:
        return "the cell of injected parameters"
    own = [i for i, t in enumerate(tags) if not t & {"injected-parameters", "papermill-error-cell-tag"}]
    cell = cells[started[-1]]
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    first = first if len(first) <= 70 else first[:67] + "..."
    return f'cell {own.index(started[-1]) + 1} of {len(own)} ({cell.get("id", "?")}: "{first}")'


def _what_ended(err: BaseException, timeout: float) -> str:
    """What papermill's exception says ended the run, in words."""
    if isinstance(err, papermill.PapermillExecutionError):
        return f"{err.ename}: {err.evalue}"
    if isinstance(err, CellTimeoutError):
        return f"the cell ran longer than its time limit of {timeout:.0f} s (timeout / --timeout)"
    if isinstance(err, DeadKernelError):
        return "the kernel died (killed, crashed or out of memory)"
    return f"the kernel failed: {err}"  # jupyter_client: it did not start or stopped answering


def execute_notebook(source: str | Path, output: str | Path, parameters: dict | None = None,
                     timeout: float | None = None, progress: bool = False,
                     idle_timeout: float | None = IDLE_TIMEOUT) -> Path:
    """Run `source` with `parameters`, in its own folder, headless, and save the executed copy to `output`.

    `timeout`: the limit in seconds for each cell (None: :func:`default_timeout`).
    `idle_timeout`: seconds without CPU use after which a running cell's kernel is stopped
    (None or 0: no watchdog). The executed copy is written whole; when the run ends early it is
    kept as ``<output stem>.failed.ipynb`` and NotebookRunError says where and why.
    """
    source, output = Path(source), Path(output)
    parameters = dict(parameters or {})
    check_parameters(source, parameters)
    timeout = timeout or default_timeout(source)
    failed = output.with_name(output.stem + ".failed.ipynb")
    marker = f"--DCASEKernel.run={uuid.uuid4().hex}"  # names this run's kernel among those running at once
    with atomic_path(output) as tmp:
        watchdog = KernelWatchdog(idle_timeout, marker) if idle_timeout else None
        try:
            with frontend.headless(), _kernel_running():
                if watchdog:
                    watchdog.start()
                papermill.execute_notebook(
                    str(source), str(tmp), parameters=json.loads(json.dumps(parameters, default=str)),
                    # the kernel starts in the notebook's folder; papermill's cwd= would chdir this whole
                    # process, under the feet of notebooks run side by side
                    resources={"metadata": {"path": str(source.parent.resolve())}},
                    execution_timeout=timeout, progress_bar=progress,
                    kernel_name="python3", extra_arguments=[*KERNEL_ARGUMENTS, marker], shutdown_kernel="immediate",
                )
        except (papermill.PapermillExecutionError, CellTimeoutError, RuntimeError, KeyboardInterrupt) as err:
            if isinstance(err, KeyboardInterrupt) and not (watchdog and watchdog.reason):
                raise
            where = _describe_cell(tmp)
            what = watchdog.reason if watchdog and watchdog.reason else _what_ended(err, timeout)
            if tmp.is_file() and tmp.stat().st_size:
                tmp.replace(failed)
                kept = f"; the executed copy is kept in {failed}"
            else:
                kept = ""
            raise NotebookRunError(f"{source}: {where}: {what}{kept}") from err
        finally:
            if watchdog:
                watchdog.stop()
    failed.unlink(missing_ok=True)
    return output


def default_run_name(folder: str | Path, run_name: str | None = None, eval_data=None) -> str:
    """A run's result folder name: `run_name`, or the solution folder's name (with ``-eval`` in eval mode)."""
    return run_name or (f"{Path(folder).name}-eval" if eval_data else Path(folder).name)


def run_solution(folder: str | Path, data_dir: str | Path, result_root: str | Path, machine_types=None,
                 epochs: int | None = None, retrain: bool = False, timeout: float | None = None,
                 extra: dict | None = None, run_name: str | None = None, eval_data: str | Path | None = None,
                 ground_truth: str | Path | None = None, idle_timeout: float | None = IDLE_TIMEOUT,
                 roles: tuple[str, ...] = notebooks.ROLES, scoring_backend: str | None = None,
                 year: int | None = None) -> Path:
    """Execute a solution's notebooks, those with the `roles` (default: train, test, visualize, in
    that order; helpers.execution.notebooks.by_role); the executed copies go to <result_root>/<run>/notebooks/
    under their own names.

    Returns the run's result folder. `timeout` and `idle_timeout` as in :func:`execute_notebook`.
    `epochs` and `retrain` go to the training notebook. `extra` adds solution-specific parameters
    (e.g. KL_WEIGHT), passed to the notebooks that declare them; the training notebook must.
    `scoring_backend` is every notebook's SCORING_BACKEND (None: config.yaml's scoring.backend),
    so the test scores with the back end the training fitted. `year` is every notebook's YEAR,
    the data's DCASE edition (None: detected from the data folder). Eval mode (`eval_data`, the eval
    data root): the model trains on `data_dir`'s and `eval_data`'s training clips, the test and
    visualisation notebooks score `eval_data`'s test clips (labelled by `ground_truth` when there
    is one), and the run is named <solution>-eval unless `run_name` says otherwise.
    """
    folder = Path(folder).resolve()
    run = default_run_name(folder, run_name, eval_data)
    common = {"DATA_DIR": str(Path(data_dir).resolve()), "RESULT_ROOT": str(Path(result_root).resolve()),
              "RUN_NAME": run, "MACHINE_TYPES": machine_types, "SCORING_BACKEND": scoring_backend,
              "YEAR": year, **(extra or {})}
    unknown_roles = [role for role in roles if role not in notebooks.ROLES]
    if unknown_roles:
        raise ConfigError(f"unknown notebook role(s) {unknown_roles}; accepted: {', '.join(notebooks.ROLES)}")
    found = notebooks.by_role(folder)
    missing = [role for role in roles if role not in found]
    if missing:
        raise ConfigError(f"{folder}: no notebook with the role(s) {missing} (metadata dcase.role, or the file name "
                          f"{', '.join(notebooks.FILE_NAMES[r] for r in missing)}); `{notebooks.REGENERATE}` writes them")
    for role in roles:
        source = found[role]
        declared = notebook_parameters(source)
        parameters = {k: v for k, v in common.items() if v is not None and k in declared}
        required = [*(extra or {})] if role == "train" else []
        if scoring_backend:
            required.append("SCORING_BACKEND")
        unknown = sorted(set(required) - set(declared))
        if unknown:
            hint = (f" (the template's notebooks have SCORING_BACKEND: `{notebooks.REGENERATE}` renders them)"
                    if "SCORING_BACKEND" in unknown else "")
            raise ConfigError(f"{source}: unknown parameter(s) {unknown}; the notebook accepts {sorted(declared)}{hint}")
        if role == "train":
            parameters.update({k: v for k, v in (("EPOCHS", epochs), ("RETRAIN", retrain)) if v is not None})
            if eval_data:
                parameters["ADDITIONAL_TRAIN_DIR"] = str(Path(eval_data).resolve())
        elif eval_data:
            parameters["DATA_DIR"] = str(Path(eval_data).resolve())
            if ground_truth and "GROUND_TRUTH" in declared:
                parameters["GROUND_TRUTH"] = str(Path(ground_truth).resolve())
        what = f"running {folder.name}/{source.name} as {run}"
        _say(what)
        started = time.perf_counter()
        executed = execute_notebook(source, Path(result_root) / run / "notebooks" / source.name, parameters, timeout,
                                    idle_timeout=idle_timeout)
        _say(what, _finished(started, executed))
    return Path(result_root) / run


def run_overview(data_dir: str | Path, result_root: str | Path, notebooks: Path, timeout: float | None = None,
                 idle_timeout: float | None = IDLE_TIMEOUT) -> Path:
    """Execute 00-data-eda.ipynb over `data_dir`, saying so; the executed copy goes to `result_root`."""
    what = "running 00-data-eda.ipynb"
    _say(what)
    started = time.perf_counter()
    output = execute_notebook(Path(notebooks) / "00-data-eda.ipynb", Path(result_root) / "00-data-eda.ipynb",
                              {"DATA_DIR": str(Path(data_dir).resolve())}, timeout, idle_timeout=idle_timeout)
    _say(what, _finished(started, output))
    return output


def run_comparison(result_root: str | Path, notebooks: Path, timeout: float | None = None,
                   idle_timeout: float | None = IDLE_TIMEOUT, year: int | None = None) -> Path:
    """Execute compare-solutions.ipynb over `result_root` (the runs of edition `year`; None: of the
    last test run's edition); the executed copy goes beside the runs."""
    return execute_notebook(Path(notebooks) / "compare-solutions.ipynb", Path(result_root) / "compare-solutions.ipynb",
                            {"RESULT_ROOT": str(Path(result_root).resolve()), "YEAR": year}, timeout,
                            idle_timeout=idle_timeout)
