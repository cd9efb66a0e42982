"""Exceptions that name what failed: the file, the line, the utterance."""

from __future__ import annotations


class AsrserError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class DataError(AsrserError):
    """A problem in an input file; names the file and, where known, the line."""

    def __init__(self, path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}")


class AudioError(AsrserError):
    """Audio that cannot be used; names the utterance and the file or command."""

    def __init__(self, utt: str | None, source: str, message: str):
        self.utt = utt
        self.source = source
        self.message = message
        who = f"utterance {utt} ({source})" if utt else source
        super().__init__(f"{who}: {message}")
