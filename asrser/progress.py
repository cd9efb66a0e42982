"""Progress display for every loop that reports it: a tqdm bar on a terminal, plain lines elsewhere.

A captured log (`./run.sh > log 2>&1`, a job's log) gets one line every `every` seconds and one at the end,
e.g. `mono EM: 12/40 iter (30%), 34 s`, instead of tqdm's carriage-return frames.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Iterable, Iterator


def bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
        enabled: bool = True, every: float = 30.0, file: IO[str] | None = None, **tqdm_options):
    """A progress display with tqdm's interface (iterate over it, or call update(n); set_postfix; close; use
    it as a context manager). A tqdm bar when `file` (default stderr) is a terminal, otherwise a line per
    `every` seconds and a last one on close; nothing when not `enabled`. `tqdm_options` go to the bar only."""
    stream = file if file is not None else sys.stderr
    if enabled and not _is_terminal(stream):
        return LogLines(iterable, total=total, desc=desc, unit=unit, every=every, file=stream)
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=stream, disable=not enabled, **tqdm_options)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):     # no isatty, or closed
        return False


class LogLines:
    """The progress of a loop as whole lines: for log files, where a redrawn bar would be noise."""

    def __init__(self, iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", every: float = 30.0, file: IO[str] | None = None):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.file = file if file is not None else sys.stderr
        self.n = 0
        self.postfix = ""
        self.started = self.last_line = time.monotonic()
        self.closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __len__(self) -> int:
        return self.total or 0

    def __enter__(self) -> "LogLines":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last_line >= self.every:
            self.last_line = now
            self._line()

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._line()

    def _line(self) -> None:
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        percent = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        elapsed = time.monotonic() - self.started
        postfix = f", {self.postfix}" if self.postfix else ""
        prefix = f"{self.desc}: " if self.desc else ""
        print(f"{prefix}{done} {self.unit}{percent}, {elapsed:.0f} s{postfix}", file=self.file, flush=True)
