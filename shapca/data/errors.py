"""Errors of the data layer, each naming what the user has to look at."""
from __future__ import annotations


class DataError(ValueError):
    """Malformed input: names the file and the 1-based line (0 when the problem is the whole file)."""

    def __init__(self, path, line: int, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")

    def __reduce__(self):
        # rebuilt from its own arguments: Ray copies and pickles a trial's exception, and the default rebuild calls
        # DataError(str(self)), which would fail and replace the message with a TypeError
        return type(self), (self.path, self.line, self.message)


class FetchError(RuntimeError):
    """An upstream file could not be obtained (not in the mirror, network failure, bad archive)."""


class ChecksumError(FetchError):
    """A file's size or sha256 differs from the manifest; the bad bytes are never kept in the cache."""


class MissingContextError(LookupError):
    """Some examples have no context from the chosen generator and no fallback was asked for."""
