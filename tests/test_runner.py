"""Headless runs always end: a time limit per cell, a watchdog for an idle kernel, a dead kernel
reported, and each ends with a message naming the notebook and the cell, the executed copy kept.

The notebooks here are written by the test: a cell that sleeps (an idle kernel that does not
reply), a cell that spins (a cell over its time limit), a cell that kills its own kernel.
"""
import functools
import os
import subprocess
import sys
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import frontend, paths, threads
from helpers.detectors import solution
from helpers.execution import runner
from helpers.experiments import pipeline
from helpers.errors import ToolkitError

BODIES = {
    "sleeps": "time.sleep(WAIT)\nprint('woke up')",
    "spins": "start = time.time()\nwhile time.time() - start < WAIT:\n    pass",
    "dies": "os.kill(os.getpid(), 9)",
    "raises": "raise ValueError(f'bad value {WAIT}')",
    "reports": "from helpers import frontend\nprint('headless' if frontend.headless_kernel() else 'live')",
}


LONG_CELL = 600  # seconds a sleeping or spinning cell would take: stopping it is ending well before


def write_notebook(folder, name: str):
    """imports, parameters (WAIT), a markdown cell, then the cell under test."""
    nb = new_notebook(cells=[new_code_cell("import os, time"),
                             new_code_cell("WAIT = 1  # seconds", metadata={"tags": ["parameters"]}),
                             new_markdown_cell("The cell under test:"),
                             new_code_cell(BODIES[name])])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def run(tmp_path, name, **kwargs):
    started = time.monotonic()
    source = write_notebook(tmp_path, name)
    with pytest.raises(runner.NotebookRunError) as caught:
        runner.execute_notebook(source, tmp_path / "out" / f"{name}.ipynb", **kwargs)
    return str(caught.value), time.monotonic() - started


def test_an_idle_kernel_is_stopped_by_the_watchdog(tmp_path):
    message, seconds = run(tmp_path, "sleeps", parameters={"WAIT": LONG_CELL}, idle_timeout=4)
    assert 'sleeps.ipynb: cell 4 of 4' in message and '"time.sleep(WAIT)"' in message
    assert "went idle without replying" in message and "watchdog" in message
    assert seconds < LONG_CELL / 2
    kept = tmp_path / "out" / "sleeps.failed.ipynb"
    assert str(kept) in message and kept.is_file() and not (tmp_path / "out" / "sleeps.ipynb").exists()


def test_a_cell_over_its_time_limit_is_stopped(tmp_path):
    message, seconds = run(tmp_path, "spins", parameters={"WAIT": LONG_CELL}, timeout=3)
    assert 'cell 4 of 4' in message and '"start = time.time()"' in message
    assert "longer than its time limit of 3 s" in message
    assert seconds < LONG_CELL / 2


def test_a_dead_kernel_is_reported(tmp_path):
    message, _ = run(tmp_path, "dies")
    assert 'cell 4 of 4' in message and "the kernel died" in message


def test_an_error_names_the_cell_and_the_exception(tmp_path):
    message, _ = run(tmp_path, "raises", parameters={"WAIT": 7})
    assert 'cell 4 of 4' in message and "ValueError: bad value 7" in message
    failed = nbformat.read(tmp_path / "out" / "raises.failed.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in failed.cells for o in c.get("outputs", []))


def test_a_busy_cell_under_its_limits_finishes_and_a_stale_failed_copy_goes(tmp_path):
    """A cell using the CPU is never idle; a finished run replaces the earlier failure's copy."""
    run(tmp_path, "spins", parameters={"WAIT": LONG_CELL}, timeout=2)
    assert (tmp_path / "out" / "spins.failed.ipynb").is_file()
    output = runner.execute_notebook(tmp_path / "spins.ipynb", tmp_path / "out" / "spins.ipynb",
                                     {"WAIT": 6}, idle_timeout=3)
    assert output.is_file() and not (tmp_path / "out" / "spins.failed.ipynb").exists()


def test_kernels_started_by_the_runner_are_headless(tmp_path):
    output = runner.execute_notebook(write_notebook(tmp_path, "reports"), tmp_path / "out.ipynb")
    printed = nbformat.read(output, as_version=4).cells[-1].outputs[0]["text"]
    assert printed.strip() == "headless"
    assert not frontend.headless_kernel() and frontend.HEADLESS_VARIABLE not in os.environ


MEETS = ("from pathlib import Path\nfrom helpers import threads\n"
         "Path(HERE, NAME).touch()\n"
         "deadline = time.time() + 120\n"
         "while not Path(HERE, OTHER).exists() and time.time() < deadline:\n    time.sleep(0.1)\n"
         "print(Path(HERE, OTHER).exists(), threads.share(), Path.cwd() == Path(HERE))")


def meeting_notebook(folder):
    """A notebook that marks its arrival (HERE/NAME) and waits up to 2 minutes for the OTHER's mark:
    run one after the other, the first would wait in vain."""
    nb = new_notebook(cells=[new_code_cell("import time"),
                             new_code_cell("HERE = ''\nNAME = ''\nOTHER = ''", metadata={"tags": ["parameters"]}),
                             new_code_cell(MEETS)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "meets.ipynb")
    return folder / "meets.ipynb"


def test_notebooks_run_side_by_side_share_the_cores(tmp_path):
    source = meeting_notebook(tmp_path)
    tasks = [functools.partial(runner.execute_notebook, source, tmp_path / f"{me}.ipynb",
                               {"HERE": str(tmp_path), "NAME": me, "OTHER": other}, timeout=300)
             for me, other in (("a", "b"), ("b", "a"))]
    here, shared = os.getcwd(), os.environ.get(threads.VARIABLE)  # a test worker's own share, if any
    outputs = runner.run_parallel(tasks, jobs=2)
    assert outputs == [tmp_path / "a.ipynb", tmp_path / "b.ipynb"]
    for output in outputs:  # both running: half this process's cores each; each kernel in its notebook's folder
        printed = nbformat.read(output, as_version=4).cells[-1].outputs[0]["text"].split()
        assert printed == ["True", str(max(1, threads.cores() // 2)), "True"]
    assert os.getcwd() == here  # no chdir of the runner's own process, which every task shares
    assert os.environ.get(threads.VARIABLE) == shared and frontend.HEADLESS_VARIABLE not in os.environ


def test_each_watchdog_stops_its_own_kernel_among_several(tmp_path):
    """An idle kernel beside a busy one: the idle one is stopped, the busy one finishes."""
    sleeps, spins = write_notebook(tmp_path, "sleeps"), write_notebook(tmp_path, "spins")
    tasks = [functools.partial(runner.execute_notebook, spins, tmp_path / "spun.ipynb", {"WAIT": 12}, idle_timeout=4),
             functools.partial(runner.execute_notebook, sleeps, tmp_path / "slept.ipynb", {"WAIT": LONG_CELL},
                               idle_timeout=4)]
    with pytest.raises(runner.NotebookRunError) as caught:
        runner.run_parallel(tasks, jobs=2)
    assert str(caught.value).startswith(f"{sleeps}: cell ") and "went idle without replying" in str(caught.value)
    assert (tmp_path / "spun.ipynb").is_file() and not (tmp_path / "slept.ipynb").exists()


def test_after_a_failure_no_task_starts_and_those_running_finish(tmp_path):
    started = []

    def fails():
        raise ToolkitError("the first task failed")

    tasks = [fails,
             functools.partial(runner.execute_notebook, write_notebook(tmp_path, "spins"), tmp_path / "spun.ipynb",
                               {"WAIT": 2}),
             lambda: started.append("third")]
    with pytest.raises(ToolkitError, match="the first task failed"):
        runner.run_parallel(tasks, jobs=2)
    assert (tmp_path / "spun.ipynb").is_file() and started == []


def test_default_limits_fit_the_notebook():
    assert runner.default_timeout("00-train-with-visual.ipynb") == runner.TRAINING_CELL_TIMEOUT
    assert runner.default_timeout("01-test.ipynb") == runner.CELL_TIMEOUT < runner.TRAINING_CELL_TIMEOUT


def test_the_command_line_exits_non_zero_naming_notebook_and_cell(tiny_data, tmp_path):
    """A run that fails in a notebook ends the command with exit code 2 and one error line."""
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "run", "--solution", "pytorch", "--dev-data", str(tiny_data),
         "--result-dir", str(tmp_path), "--types", "fann", "--epochs", "1"],
        capture_output=True, text=True, timeout=300, cwd=paths.PROJECT_ROOT)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: ") and "pytorch/00-train-with-visual.ipynb: cell" in error
    assert "ConfigError" in error and "'fann'" in error
    assert (tmp_path / "pytorch" / "notebooks" / "00-train-with-visual.failed.ipynb").is_file()


REPEATS = 2  # each run about 8 s; every solution's notebook test runs this notebook headless once more


@pytest.fixture(scope="module")
def tested_run(tiny_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("visualize")
    sol = solution.load(paths.NOTEBOOKS / "pytorch", {"training.epochs": 1})
    pipeline.train_all(sol, tiny_data, root, "valve", live=False, progress=False)
    scores, _ = pipeline.test_all(sol, tiny_data, root, "valve", progress=False)
    return root, scores


def test_the_visualize_notebook_finishes_every_time(tested_run, tiny_data, tmp_path):
    """The notebook that ends with the clip browser, headless, many times in a row: every run
    ends (within its limits) and shows the static note instead of widgets."""
    root, scores = tested_run
    clip = scores.sort_values("score")["path"].iloc[-1]
    source = paths.NOTEBOOKS / "pytorch" / "02-visualize-predictions.ipynb"
    for attempt in range(REPEATS):
        output = runner.execute_notebook(source, tmp_path / f"run{attempt}.ipynb",
                                         {"DATA_DIR": str(tiny_data), "RESULT_ROOT": str(root), "CLIPS": [clip]},
                                         timeout=120, idle_timeout=30)
        last = nbformat.read(output, as_version=4).cells[-1]
        shown = last.outputs[0]["data"]
        assert "application/vnd.jupyter.widget-view+json" not in shown
        assert "interactive in JupyterLab" in shown["text/markdown"]
