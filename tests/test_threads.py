"""The cores' budget of kernels run side by side: each kernel's share, and torch taking it."""
import os
import subprocess
import sys

import torch

from helpers import threads


def test_each_kernel_gets_the_cores_divided_by_those_running(tmp_path, monkeypatch):
    budget = threads.Budget(tmp_path / "threads", total=4)
    monkeypatch.setenv(threads.VARIABLE, str(budget.path))
    assert threads.share() == 4
    budget.started()
    assert threads.share() == 4
    budget.started()
    assert threads.share() == 2
    for _ in range(3):
        budget.started()
    assert threads.share() == 1  # 5 kernels on 4 cores: never less than one thread
    for _ in range(4):
        budget.ended()
    assert threads.share() == 4  # the last one left alone takes every core


def test_torch_takes_the_share_only_when_a_runner_gives_one(tmp_path, monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv(threads.VARIABLE, raising=False)
        assert threads.share() is None
        threads.apply_to_torch()
        assert torch.get_num_threads() == before
        (tmp_path / "threads").write_text("1")
        monkeypatch.setenv(threads.VARIABLE, str(tmp_path / "threads"))
        threads.apply_to_torch()
        assert torch.get_num_threads() == 1
        (tmp_path / "threads").write_text("not a number")  # unreadable: left as it is
        assert threads.share() is None
    finally:
        torch.set_num_threads(before)


def test_a_runner_inside_a_kernel_with_a_share_divides_that_share(tmp_path, monkeypatch):
    (tmp_path / "outer").write_text("3")
    monkeypatch.setenv(threads.VARIABLE, str(tmp_path / "outer"))
    with threads.sharing() as budget:
        assert budget.cores == 3 and threads.share() == 3
        budget.started()
        budget.started()
        assert threads.share() == 1
    assert threads.share() == 3  # the outer share is back


def test_a_process_pinned_to_one_core_shares_that_core():
    """`taskset -c 0` (or a container's cpuset) leaves a process one core of the machine's: that is
    what its kernels share out and its trainings take, not every core the machine has."""
    code = "from helpers import threads; print(threads.machine_cores(), threads.cores())"
    env = {k: v for k, v in os.environ.items() if k != threads.VARIABLE}
    pinned = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=True, timeout=120)
    assert pinned.stdout.split() == ["1", "1"]
