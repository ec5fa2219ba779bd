"""pyross.allocator: freed blocks stay in the heap, so allocating them again faults no pages in."""
import platform

import pytest
import torch

from pyross.allocator import keep_freed_memory, page_faults

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")


def cycle():
    """Allocate, touch and free 160 MB in blocks of 4 MB: more than glibc ever keeps by itself (64 MiB)."""
    blocks = [torch.empty(1 << 20).fill_(1.0) for _ in range(40)]
    del blocks


def test_freed_memory_is_reused():
    assert keep_freed_memory()
    for _ in range(4):  # the heap grows to its size for these blocks
        cycle()
    before = page_faults()
    for _ in range(3):
        cycle()
    # 160 MB faulted in again would be 3 x 40,960 faults of 4 KiB pages
    assert page_faults() - before < 1000
