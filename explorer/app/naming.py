"""Names shown and written: unique labels for cards, safe file names that say the tempo a file is written at."""

from __future__ import annotations

import re
from collections.abc import Sequence

from explorer.notes.groove import Groove


def unique_labels(labels: Sequence[str]) -> list[str]:
    """The labels, with ' #2', ' #3', … after repeats, so that a list of them names each item once."""
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return unique


def file_stem(label: str) -> str:
    """A safe file name stem from a label: letters, digits, '.', '-' and '_' only, no leading dot."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:80].strip("._")  # cut first: a cut may end on a '.'
    return stem or "groove"


def played_stem(label: str, groove: Groove, bpm: float | None) -> str:
    """`file_stem` of a groove's label, saying the tempo it is written at when that is not its own (a label names
    the groove's own tempo: '… 96 bpm' written at a fixed 120 ends '_at_120_bpm')."""
    stem = file_stem(label)
    return stem if bpm is None or bpm == groove.bpm else f"{stem}_at_{bpm:g}_bpm"
