import platform
import subprocess
import sys

import pytest

from helpers import allocator

# Allocates and frees 4 MB blocks, as a training step does with its batches and activations, and
# prints the page faults that took (a block served by a fresh mmap faults on each of its 1,024 pages).
CHURN = """
import resource, sys
import numpy as np
from helpers import allocator
applied = allocator.keep_freed_memory() if sys.argv[1] == "kept" else False
keep = np.ones(1 << 20, np.float32)  # the heap's top stays in use, as a training's model and data keep it
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    a = np.ones(1 << 20, np.float32)  # 4 MB
    b = np.ones(1 << 20, np.float32)
    del a, b
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def churn_faults(mode: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_freed_blocks_are_reused_instead_of_mapped_again():
    applied, faults = churn_faults("kept")
    assert applied
    # 400 blocks of 1,024 pages each: mapped afresh they would fault 409,600 times; reused, about never
    assert faults < 1024 * 400 / 20
    assert allocator.keep_freed_memory() is allocator.keep_freed_memory()  # once per process, same answer


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert allocator.keep_freed_memory() is False
