"""How this process's C allocator hands out the memory of tensors and arrays.

glibc's malloc serves every block above its mmap threshold (128 KiB at start, raised as blocks
are freed) with a fresh mmap, and gives the top of its heap back to the system as soon as
twice that is free. A training step allocates and frees dozens of such blocks (a batch of 512
stacked 640-d vectors is 1.3 MB, and each layer's activations and gradients are new tensors),
so each step maps fresh pages and faults on every one of them as it is first written: about
50,000-150,000 page faults an epoch for the dense autoencoder on the small preset (measured on
a 2-core AMD EPYC: an fp32 epoch 0.94-0.96 s with them, 0.76-0.95 s without; bf16 0.69-0.78 s
against 0.45-0.65 s). :func:`keep_freed_memory` makes blocks up to MMAP_THRESHOLD come from
the heap and keeps up to TRIM_THRESHOLD of freed heap for reuse (about a thousand faults an
epoch); results are bit for bit the same. Other C libraries
(macOS, musl) are left as they are.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform

MMAP_THRESHOLD = 32 << 20  # blocks below this come from the heap (glibc's largest allowed value)
TRIM_THRESHOLD = 64 << 20  # freed memory kept at the top of the heap before it goes back to the system
TOP_PAD = 16 << 20         # extra memory taken each time the heap grows
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters (malloc.h)
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's malloc to reuse freed blocks of up to MMAP_THRESHOLD (see the module's text);
    once per process. True if the settings are in force, False where the C library is not glibc."""
    global _applied
    if _applied is None:
        _applied = False
        if platform.libc_ver()[0] == "glibc":
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _applied = all(libc.mallopt(option, value) == 1 for option, value in (
                (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_TOP_PAD, TOP_PAD)))
    return _applied
