"""Memory of a process tree: sampled while it works (what "streams, never holds" tests
measure), or read once (the bench's idle figures)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil

MIB = 1024 * 1024
SAMPLE_SECONDS = 0.02


class RssSampler:
    """Samples the memory of a process and all its descendants in a background thread.

    Celery's prefork parent and its pool child share most of their pages (the
    child is a fork), so summing their RSS counts those pages twice. Kept here:
    the tree's summed PSS (each shared page split between its sharers: what the
    tree really occupies), the largest single process's RSS, and for reference
    the plain sum of RSS.
    """

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_tree_pss = 0
        self.peak_tree_rss_sum = 0
        self.peak_process_rss = 0
        self.samples = 0

    def _measure(self) -> None:
        pss = rss = 0
        for process in [self._root, *self._root.children(recursive=True)]:
            try:
                memory = process.memory_full_info()
            except psutil.NoSuchProcess:
                continue
            pss += memory.pss
            rss += memory.rss
            self.peak_process_rss = max(self.peak_process_rss, memory.rss)
        self.peak_tree_pss = max(self.peak_tree_pss, pss)
        self.peak_tree_rss_sum = max(self.peak_tree_rss_sum, rss)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._measure()
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> RssSampler:
        self._measure()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._measure()

    def summary(self) -> str:
        return (
            f"peak PSS of the worker tree {self.peak_tree_pss / MIB:.1f} MiB, "
            f"peak RSS of one process {self.peak_process_rss / MIB:.1f} MiB, "
            f"peak summed RSS of the tree {self.peak_tree_rss_sum / MIB:.1f} MiB "
            f"({self.samples} samples)"
        )


@dataclass(frozen=True)
class Memory:
    """One reading of a process tree: RSS and PSS summed, and the largest process's RSS."""

    processes: int
    rss_mb: float
    pss_mb: float
    largest_rss_mb: float


def tree_memory(pids: list[int]) -> Memory:
    """RSS and PSS summed over processes (RSS counts pages shared after fork once per
    process), and the RSS of the largest single process."""
    rss = pss = largest = 0
    for pid in pids:
        info = psutil.Process(pid).memory_full_info()
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        largest = max(largest, info.rss)
    return Memory(len(pids), rss / MIB, pss / MIB, largest / MIB)


def with_children(pid: int) -> list[int]:
    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
