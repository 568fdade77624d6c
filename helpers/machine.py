"""The machine a figure was measured on: its CPU (model, family, the vector instructions that change
how fast and in what precision a network trains), its cores and memory, and the versions of the
libraries that compute. Recorded beside every spread (helpers.execution.regression) and benchmark report.
"""
from __future__ import annotations

import platform
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from helpers import threads

# The instruction sets a report names when the CPU has them: (cpuinfo flag, name).
INSTRUCTION_SETS = (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX-512 BF16"), ("amx_bf16", "AMX"))
BF16_SETS = ("AVX-512 BF16", "AMX")
PACKAGES = ("numpy", "scipy", "librosa", "torch", "lightning", "tensorflow", "keras", "scikit-learn", "papermill")


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[dict, frozenset]:
    """The first processor's fields of /proc/cpuinfo and its flags (empty where there is no such file)."""
    fields, flags = {}, frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "flags" and not flags:
                flags = frozenset(value.split())
            fields.setdefault(key, value)
    except OSError:
        pass
    return fields, flags


def instruction_sets() -> list[str]:
    """The INSTRUCTION_SETS this CPU has, e.g. ["AVX2", "AVX-512", "AVX-512 BF16"]."""
    flags = _cpuinfo()[1]
    return [name for flag, name in INSTRUCTION_SETS if flag in flags]


def cpu_name() -> str:
    """The CPU this process runs on, as a spread's "where": model name, family and model, the bf16
    instructions it has, and its cores, e.g. "AMD EPYC (family 25 model 1), 2 cores"."""
    fields = _cpuinfo()[0]
    name = fields.get("model name") or platform.processor() or platform.machine()
    family = f" (family {fields['cpu family']} model {fields['model']})" if "cpu family" in fields else ""
    extras = [found for found in instruction_sets() if found in BF16_SETS]
    return f"{name}{family}{', ' + ', '.join(extras) if extras else ''}, {threads.machine_cores()} cores"


def memory_gb() -> float:
    """The machine's memory in GB (0 where /proc/meminfo cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def versions() -> dict[str, str]:
    """{package: version} of Python and the installed PACKAGES (those not installed left out)."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found
