"""Who is looking at the output: a person in a live Jupyter frontend, or nobody (a headless run).

Widgets need a frontend that renders them and answers their messages. Under papermill or
nbconvert nobody does, and a cell holding widgets can leave the executing client waiting
forever (jupyter/nbclient#312). So widget code asks :func:`headless_kernel` first.

A live frontend is a kernel started by a Jupyter server for a notebook session (JupyterLab and
Notebook 7 set ``JPY_SESSION_NAME`` for it) or by VS Code (``__vsc_ipynb_file__`` in the user
namespace). The project's runner also marks every kernel it starts as headless
(:data:`HEADLESS_VARIABLE`), so a run started from inside JupyterLab stays headless too; a
person can set that variable to 0 for a frontend not recognised here.

What a person reads also leaves out the frameworks' own C++ log lines (TensorFlow's, which on a
machine without a GPU include an error line about CUDA), unless :data:`NATIVE_LOGS_VARIABLE` is 1:
``python -m helpers run --framework-logs`` sets it for the kernels it starts.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager

HEADLESS_VARIABLE = "DCASE_HEADLESS"
NATIVE_LOGS_VARIABLE = "DCASE_FRAMEWORK_LOGS"


def native_logs_shown() -> bool:
    """Whether the frameworks' own log lines are asked for (``DCASE_FRAMEWORK_LOGS=1``)."""
    return os.environ.get(NATIVE_LOGS_VARIABLE, "").strip() == "1"


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def in_kernel() -> bool:
    """True inside a Jupyter kernel (live or headless), False in a script or a terminal IPython."""
    shell = _shell()
    return shell is not None and shell.__class__.__name__ != "TerminalInteractiveShell"


def live_frontend() -> bool:
    """True when a person's Jupyter frontend (JupyterLab, Notebook, VS Code) renders this kernel's output.

    ``DCASE_HEADLESS=1`` says no, ``DCASE_HEADLESS=0`` says yes (a frontend not recognised here, e.g. Voila).
    """
    if not in_kernel():
        return False
    marked = os.environ.get(HEADLESS_VARIABLE)
    if marked in ("0", "1"):
        return marked == "0"
    return "JPY_SESSION_NAME" in os.environ or "__vsc_ipynb_file__" in _shell().user_ns


def headless_kernel() -> bool:
    """True inside a kernel that no person's frontend renders (papermill, nbconvert): no widgets there."""
    return in_kernel() and not live_frontend()


_marking = threading.Lock()
_marked = {"depth": 0, "before": None}  # blocks open at once (threads of one runner), the value before the first


@contextmanager
def headless():
    """Mark the kernels started inside this block as headless (they inherit the environment).

    Blocks may be open in several threads at once: the variable is set by the first and put
    back by the last to close.
    """
    with _marking:
        if _marked["depth"] == 0:
            _marked["before"] = os.environ.get(HEADLESS_VARIABLE)
            os.environ[HEADLESS_VARIABLE] = "1"
        _marked["depth"] += 1
    try:
        yield
    finally:
        with _marking:
            _marked["depth"] -= 1
            if _marked["depth"] == 0:
                if _marked["before"] is None:
                    os.environ.pop(HEADLESS_VARIABLE, None)
                else:
                    os.environ[HEADLESS_VARIABLE] = _marked["before"]
