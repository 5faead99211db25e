"""What of a session the page's address keeps: the Dataset filters and the basket's GMD seeds, as query parameters.

A reload then restores them, and the address shared as a link opens the same view. Seeds that are not GMD windows
(uploads, generated grooves) would not fit in an address; they are left out. Every value read back is checked
against the dataset, so a hand-edited or stale link restores what still makes sense and ignores the rest.

    ?genre=funk,rock&bpm=90-120&seeds=drummer1/session1/1_funk_80_beat_4-4.mid:5,…&grid=100.50.1.AAAw…

The step grid's beat is kept too: it is small (2 bits a cell), and a beat made in the browser exists nowhere else.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import pandas as pd

# Dataset page widget (session-state key) → query parameter, for the multi-selects (comma lists) and the ranges.
LIST_FILTERS = {"keep_genres": "genre", "keep_drummers": "drummer", "keep_beat_types": "type",
                "keep_splits": "split", "keep_meters": "meter"}
RANGE_FILTERS = {"keep_bpm": "bpm", "keep_duration": "duration"}
TEXT_FILTER = ("keep_text", "style")
SEEDS = "seeds"
GRID = "grid"  # the step grid's beat (explorer/app/components/step_grid: beat_to_text)
LEFT_OUT = "unsaved"  # how many basket seeds were not GMD windows: a reload says they are gone
MAX_SEEDS = 24  # the basket's own limit
# Which values a list filter may take, from the dataset table's columns.
LIST_COLUMNS = {"genre": "genre", "drummer": "drummer", "type": "beat_type", "split": "split",
                "meter": "time_signature"}


def to_query(widgets: Mapping[str, object], seed_sources: Sequence[str], gmd_files: Collection[str],
             grid: str | None = None) -> dict[str, str]:
    """Query parameters of the filters that are set, of the GMD seeds (their sources, 'file@barN' of a file in
    `gmd_files`: an upload's windows are named so too) and of the step grid's beat (`grid`, as text)."""
    query = {GRID: grid} if grid else {}
    for key, name in LIST_FILTERS.items():
        if widgets.get(key):
            query[name] = ",".join(str(v) for v in widgets[key])
    for key, name in RANGE_FILTERS.items():
        if widgets.get(key) is not None:
            low, high = widgets[key]
            query[name] = f"{low:g}-{high:g}"
    if widgets.get(TEXT_FILTER[0]):
        query[TEXT_FILTER[1]] = str(widgets[TEXT_FILTER[0]])
    windows = [f"{file}:{bar}" for file, bar in (gmd_window(s) for s in seed_sources) if file in gmd_files]
    if windows:
        query[SEEDS] = ",".join(windows)
    if len(windows) < len(seed_sources):
        query[LEFT_OUT] = str(len(seed_sources) - len(windows))
    return query


def left_out(query: Mapping[str, str]) -> int:
    """How many seeds the address could not keep (uploads, generated grooves)."""
    text = str(query.get(LEFT_OUT, ""))
    return min(int(text), MAX_SEEDS) if text.isdigit() else 0


def named_seeds(query: Mapping[str, str]) -> int:
    """How many seeds the address names, once each (`seed_rows` finds those the dataset has)."""
    return len(dict.fromkeys(item for item in str(query.get(SEEDS, "")).split(",")[:MAX_SEEDS] if item))


def gmd_window(source: str) -> tuple[str | None, int]:
    """('drummer1/…/x.mid', 5) of a GMD window's source 'drummer1/…/x.mid@bar5'; (None, 0) for anything else."""
    file, _, bar = source.rpartition("@bar")
    return (file, int(bar)) if file.endswith(".mid") and bar.isdigit() else (None, 0)


def from_query(query: Mapping[str, str], info: pd.DataFrame, meta: pd.DataFrame,
               full_ranges: Mapping[str, tuple[float, float]]) -> tuple[dict[str, object], list[int]]:
    """(widget values to set, window rows of the seeds) from query parameters, keeping only values the dataset
    has: known genres, drummers, …; ranges clipped to `full_ranges` (widget key → (min, max)); seeds that are
    windows of `meta`, in order, once each."""
    widgets: dict[str, object] = {}
    for key, name in LIST_FILTERS.items():
        if query.get(name):
            known = set(info[LIST_COLUMNS[name]].astype(str))
            values = [v for v in str(query[name]).split(",") if v in known]
            if values:
                widgets[key] = values
    for key, name in RANGE_FILTERS.items():
        parsed = _range(query.get(name))
        if parsed and key in full_ranges:
            low, high = full_ranges[key]
            start, stop = max(low, min(parsed)), min(high, max(parsed))
            if start <= stop:
                kind = type(low)
                widgets[key] = (kind(start), kind(stop))
    if query.get(TEXT_FILTER[1]):
        widgets[TEXT_FILTER[0]] = str(query[TEXT_FILTER[1]])[:100]
    return widgets, seed_rows(query.get(SEEDS, ""), meta)


def _range(text: str | None) -> tuple[float, float] | None:
    low, _, high = str(text or "").partition("-")
    try:
        return float(low), float(high)
    except ValueError:
        return None


def seed_rows(text: str, meta: pd.DataFrame) -> list[int]:
    """Window rows of 'file:bar,…' (bars counted from 1, as in the labels), unknown ones left out."""
    index = {(str(f), int(b) + 1): i for i, (f, b) in enumerate(zip(meta["midi_filename"], meta["start_bar"],
                                                                    strict=True))}
    rows: list[int] = []
    for item in str(text).split(",")[:MAX_SEEDS]:
        file, _, bar = item.rpartition(":")
        row = index.get((file, int(bar))) if bar.isdigit() else None
        if row is not None and row not in rows:
            rows.append(row)
    return rows
