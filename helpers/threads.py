"""The CPU threads of notebook kernels that the runner runs side by side.

``python -m helpers run --jobs N`` (and ``demo``) runs up to N notebooks at once. Their kernels
share the cores: a :class:`Budget` in the runner keeps each kernel's share, the cores divided by
the kernels running now, in a file named by ``$DCASE_THREADS_FILE``. A kernel reads it with
:func:`share`: torch takes it when a network engine is made and again at every training epoch
(:func:`apply_to_torch`), so a notebook left running alone uses every core from its next epoch
on; TensorFlow takes it once, when helpers.detectors.keras_backend is imported. Without the variable (one
notebook at a time, or JupyterLab) nothing is changed.

Within one kernel, pipeline.train_all may train several machine types side by side
(:func:`side_by_side`): each torch training then takes the kernel's share (all cores without a
runner) divided by the trainings running together.

Training on a changed number of threads sums in another order, so under ``--jobs`` above 1, and
side by side, a run's figures can differ from a one-at-a-time run's in the last bits, as on
another CPU.
"""
from __future__ import annotations

import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from helpers.fileio import atomic_write_text

VARIABLE = "DCASE_THREADS_FILE"
_together = 1  # torch trainings this process runs side by side now (side_by_side)


def share() -> int | None:
    """This kernel's share of the cores (at least 1), or None when no runner shares them out."""
    path = os.environ.get(VARIABLE)
    if not path:
        return None
    try:
        return max(1, int(Path(path).read_text()))
    except (OSError, ValueError):
        return None


def machine_cores() -> int:
    """The cores this process may run on: its CPU affinity (``taskset``, a container's cpuset) where
    the system tells it, else every core of the machine."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity on this system (macOS, Windows)
        return os.cpu_count() or 1


def cores() -> int:
    """The cores this kernel may use: its share (:func:`share`), or all it may run on without a runner
    (:func:`machine_cores`)."""
    return share() or machine_cores()


def torch_threads() -> int | None:
    """The intra-op threads each torch training of this kernel takes now: :func:`cores` divided by
    the trainings running side by side, at least 1; without those, the runner's share, or None
    when no runner shares the cores out (torch is left as it is)."""
    if _together == 1:
        return share()
    return max(1, cores() // _together)


def apply_to_torch() -> None:
    """Set torch's intra-op threads to :func:`torch_threads`, unless that is None."""
    threads = torch_threads()
    if threads is not None:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


@contextmanager
def side_by_side(trainings: int):
    """While the block runs, `trainings` torch trainings of this process run at once and share its
    cores (:func:`torch_threads`); torch's thread count is put back afterwards. Not nested."""
    global _together
    import torch

    before = torch.get_num_threads()
    _together = trainings
    try:
        apply_to_torch()
        yield
    finally:
        _together = 1
        torch.set_num_threads(before)


class Budget:
    """Shares `total` cores among the kernels running at once (the runner's side); by default this
    process's own (:func:`cores`), so that a runner inside a kernel with a share divides that share.

    The share is written to `path` whenever a kernel starts or ends; kernels started while
    ``$DCASE_THREADS_FILE`` names `path` read it (:func:`share`).
    """

    def __init__(self, path: Path, total: int | None = None):
        self.path = Path(path)
        self.cores = max(1, total or cores())
        self.running = 0
        self._lock = threading.Lock()
        self._write()

    def _write(self) -> None:
        atomic_write_text(self.path, str(max(1, self.cores // max(1, self.running))))

    def started(self) -> None:
        with self._lock:
            self.running += 1
            self._write()

    def ended(self) -> None:
        with self._lock:
            self.running -= 1
            self._write()


@contextmanager
def sharing(total: int | None = None):
    """A :class:`Budget` of `total` cores whose file ``$DCASE_THREADS_FILE`` names while the block
    runs, so that the kernels started inside it (and this process) read their share; the variable
    is put back afterwards."""
    before = os.environ.get(VARIABLE)
    with tempfile.TemporaryDirectory(prefix="dcase-threads-") as folder:
        budget = Budget(Path(folder) / "threads", total)
        os.environ[VARIABLE] = str(budget.path)
        try:
            yield budget
        finally:
            if before is None:
                os.environ.pop(VARIABLE, None)
            else:
                os.environ[VARIABLE] = before
