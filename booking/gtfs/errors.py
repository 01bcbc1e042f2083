"""The one error a feed can be refused with: which file, which line, what is wrong."""

from __future__ import annotations


class FeedError(Exception):
    """A GTFS feed that cannot be imported; nothing of it was stored.

    ``line`` is the 1-based line of ``file`` (the header is line 1), or None when the
    problem is with the file as a whole (missing, not UTF-8, no service in the window).
    """

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = file if line is None else f"{file} line {line}"
        super().__init__(f"{where}: {problem}")
