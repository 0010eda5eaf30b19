"""A tiny benchmark registry: `@benchmark("name")` in any app's `bench` module, run by `civicgrid bench`.

A benchmark is a function `fn(say) -> figures`: it prints a readable summary through `say` (one
line per call) and returns its figures (name -> number or text) so that callers and tests can
check them. Figures are single runs on whatever machine runs them: compare like with like.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Figures = dict[str, float | int | str]
Say = Callable[[str], None]
BenchmarkFn = Callable[[Say], Figures]


@dataclass(frozen=True)
class Benchmark:
    name: str
    fn: BenchmarkFn
    doc: str


_registry: dict[str, Benchmark] = {}


def benchmark(name: str) -> Callable[[BenchmarkFn], BenchmarkFn]:
    """Registers a benchmark under `name`; its docstring's first line is what `--list` shows."""

    def register(fn: BenchmarkFn) -> BenchmarkFn:
        known = _registry.get(name)
        if known is not None and known.fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"benchmark {name!r} is already registered by {known.fn.__module__}")
        doc = (fn.__doc__ or "").strip().splitlines()
        _registry[name] = Benchmark(name, fn, doc[0] if doc else "")
        return fn

    return register


def registered() -> dict[str, Benchmark]:
    return dict(sorted(_registry.items()))


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed:` … `elapsed()` gives the seconds the block took."""
    started = time.perf_counter()
    ended: list[float] = []
    yield lambda: (ended[0] if ended else time.perf_counter()) - started
    ended.append(time.perf_counter())


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def python_loop_ms() -> float:
    """The best of three runs of a fixed pure-Python loop (ten million additions), in ms: how fast this
    machine runs Python at the moment. Machines of the same name differed by two times (fifth session,
    docs/performance.md), so figures from two runs compare only with this alongside."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def machine() -> Figures:
    """What the figures were measured on."""
    from django.db import connection

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 0,
        "python": platform.python_version(),
        "python_loop_ms": python_loop_ms(),
        "database": connection.vendor,
        "system": platform.platform(terse=True),
    }


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")
