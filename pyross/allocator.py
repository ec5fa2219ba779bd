"""Keep the memory a training step frees, so that the next step does not fault it in again.

Every training step allocates and frees the same tensors: an M2 step with the paper's networks
has activations of ``(10, 100, 500)`` and decoder outputs of ``(10, 100, 784)`` floats, 2 to 3 MB
each, and their gradients. torch takes CPU memory from the C library's ``malloc``. glibc's
``malloc`` gives a block above its *mmap threshold* fresh pages from the kernel and returns them
when it is freed, and it returns free memory at the top of its heap beyond the *trim
threshold*; both thresholds adapt, but only up to 32 MiB and 64 MiB. So each step faulted its
memory in again: 2,500 to 3,900 page faults a step with the paper's networks, each page zeroed
by the kernel first (docs/performance.md). With the thresholds raised, the steps reuse the heap's
memory (about 10 faults a step) and the peak memory does not change.

:func:`keep_freed_memory` raises them for the whole process; the :class:`~pyross.train.Trainer`
calls it. It does nothing where the C library is not glibc.
"""
import ctypes
import platform

#: ``mallopt`` parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: blocks below this come from the heap, not from fresh pages of their own
MMAP_THRESHOLD = 64 << 20
#: free memory at the heap's top is kept up to this much
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory():
    """Raise glibc's mmap and trim thresholds (:data:`MMAP_THRESHOLD`, :data:`TRIM_THRESHOLD`) for this process.

    :returns: whether they were set (``False`` where the C library is not glibc).
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # this process's own symbols: glibc's mallopt, no search for the library
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def page_faults():
    """The minor page faults of this process so far (Linux: field 10 of ``/proc/self/stat``), to
    measure what :func:`keep_freed_memory` saves."""
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])
