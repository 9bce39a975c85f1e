"""Markdown tables, for the pipeline's report and the benchmarks' printouts."""
from __future__ import annotations

from typing import Iterable, Sequence


def table(header: Sequence[str], rows: Iterable[Sequence]) -> list[str]:
    """The lines of a table: header, separator, then one line a row of formatted cells."""
    return [_line(header), "|" + "---|" * len(header), *map(_line, rows)]


def _line(cells: Sequence) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"
