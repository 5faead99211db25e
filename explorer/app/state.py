"""One session's state: the seed basket, each page's results, and the page's address (the Dataset filters and the
basket's GMD seeds, which a reload or a shared link restores).

Plain functions on a basket list come first (tests call them directly); the rest keeps its state in
`st.session_state` under the keys named in STATE_KEYS.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from explorer.app import resources, share
from explorer.app.components import step_grid
from explorer.datasets import gmd
from explorer.errors import ExplorerError
from explorer.notes.grid import WINDOW_BARS, WINDOW_STEPS
from explorer.notes.groove import Groove

DEFAULT_SEED_GENRES = ("rock", "funk", "hiphop", "jazz")  # four test-split beats that sound clearly different
BASKET_LIMIT = 24
SEED_PICKERS = "seed_picker_keys"  # the keys of the select boxes over the basket (each holds a seed's index)
STATE_KEYS = {"basket": "basket", "results": "results", "filters": "dataset_filters"}
GRID_BEAT, GRID_REVISION, GO_TO_GRID = "grid_beat", "grid_revision", "go_to_grid"


@dataclass(frozen=True)
class Seed:
    """A groove in the basket with the name the user sees."""

    label: str
    groove: Groove


def add_seed(basket: list[Seed], seed: Seed, limit: int = BASKET_LIMIT) -> str:
    """Append `seed` unless it is no 4-bar groove, is already in, or the basket is full; returns what happened."""
    if seed.groove.steps != WINDOW_STEPS:
        return f"Only 4-bar grooves can be seeds; '{seed.label}' lasts {seed.groove.bars:g} bars."
    key = seed.groove.content_key()
    if any(s.groove.content_key() == key for s in basket):
        return f"'{seed.label}' is already in the basket."
    if len(basket) >= limit:
        return f"The basket holds {limit} seeds at most; remove one first."
    basket.append(seed)
    return f"Added '{seed.label}' to the basket."


def default_seed_rows(meta: pd.DataFrame, genres: Sequence[str] = DEFAULT_SEED_GENRES) -> list[int]:
    """One window per genre: the middle window of the first test-split beat of that genre (by file name)."""
    beats = meta[(meta["split"] == "test") & (meta["beat_type"] == "beat")]
    rows = []
    for genre in genres:
        files = sorted(beats.loc[beats["genre"] == genre, "midi_filename"].unique())
        if files:
            windows = beats.index[beats["midi_filename"] == files[0]]
            rows.append(int(windows[len(windows) // 2]))
    return rows


def performance_bars(row: pd.Series) -> float:
    """The length in bars, to the half bar, of the performance a window's meta row belongs to."""
    return round(float(row["duration"]) * float(row["bpm"]) / 240 * 2) / 2


def window_label(row: pd.Series) -> str:
    """'funk · drummer1 · 80 bpm · beat · bars 5-8' for a window's meta row; a performance shorter than 4 bars (GMD's
    short fills) says that it is repeated to fill them."""
    start = int(row["start_bar"]) + 1
    bars = performance_bars(row)
    where = (f"{short_loop(bars)}, repeated to fill 4" if bars < WINDOW_BARS and start == 1
             else f"bars {start}-{start + 3}")
    return f"{row['genre']} · {row['drummer']} · {row['bpm']} bpm · {row['beat_type']} · {where}"


def short_loop(bars: float) -> str:
    """'1 bar', '2 bars', '2.5 bars'."""
    return f"{bars:g} bar" + ("" if bars == 1 else "s")


def init_state() -> None:
    """The seed basket and the Dataset filters of the page's address (a reload or a shared link), else the basket
    pre-filled with four GMD beats of different genres; the results of every page."""
    if STATE_KEYS["basket"] not in st.session_state:
        seeds = restore_from_address()
        st.session_state[STATE_KEYS["basket"]] = seeds if seeds is not None else default_seeds()
    st.session_state.setdefault(STATE_KEYS["results"], {})
    if GRID_BEAT not in st.session_state:
        text = st.query_params.get(share.GRID)
        try:
            st.session_state[GRID_BEAT] = step_grid.text_to_beat(text) if text else dict(step_grid.EMPTY_BEAT)
        except ValueError as error:
            st.session_state[GRID_BEAT] = dict(step_grid.EMPTY_BEAT)
            st.session_state["grid_not_restored"] = str(error)
        st.session_state[GRID_REVISION] = 0


def open_in_grid(groove: Groove) -> None:
    """A card's button callback: the groove on the step grid, to edit (the app then goes to the grid's page)."""
    st.session_state[GRID_BEAT] = step_grid.groove_to_beat(groove)
    st.session_state[GRID_REVISION] = st.session_state.get(GRID_REVISION, 0) + 1
    st.session_state[GO_TO_GRID] = True


def take_grid_beat(beat: object) -> None:
    """The beat the browser's grid sent, if it is one and new (its own edits: the revision stays)."""
    try:
        checked = step_grid.check_beat(beat)
    except ValueError:
        return
    if checked != st.session_state.get(GRID_BEAT):
        st.session_state[GRID_BEAT] = checked


def filter_ranges(info_table: pd.DataFrame) -> dict[str, tuple]:
    """The full range of the Dataset page's tempo and duration sliders."""
    return {"keep_bpm": (int(info_table["bpm"].min()), int(info_table["bpm"].max())),
            "keep_duration": (0.0, float(5 * math.ceil(info_table["duration"].max() / 5)))}


def restore_from_address() -> list[Seed] | None:
    """Sets the filters the address names; returns its GMD seeds (None when it names none)."""
    query = st.query_params.to_dict()
    if not query:
        return None
    try:
        info_table, window_set = resources.info(), resources.windows()
    except ExplorerError:
        return None
    widgets, rows = share.from_query(query, info_table, window_set.meta, filter_ranges(info_table))
    st.session_state.update(widgets)
    if lost := share.left_out(query) + share.named_seeds(query) - len(rows):  # and seeds the dataset lacks
        st.session_state["seeds_not_restored"] = lost
    return seeds_of_rows(window_set, rows) if rows else None


def save_to_address() -> None:
    """Writes the filters and the basket's GMD seeds into the page's address (after every run)."""
    widgets = {key: st.session_state.get(key) for key in (*share.LIST_FILTERS, *share.RANGE_FILTERS,
                                                          share.TEXT_FILTER[0])}
    try:
        info_table = resources.info()
        ranges, gmd_files = filter_ranges(info_table), frozenset(info_table["midi_filename"])
    except ExplorerError:  # no dataset: no filters or seeds of it to keep
        ranges, gmd_files = {}, frozenset()
    for key, full in ranges.items():  # a slider at its full range filters nothing: the address stays short
        if widgets.get(key) is not None and tuple(widgets[key]) == tuple(full):
            widgets[key] = None
    beat = st.session_state.get(GRID_BEAT)
    grid = step_grid.beat_to_text(beat) if beat and beat["hits"] else None
    query = share.to_query(widgets, [seed.groove.source for seed in st.session_state.get(STATE_KEYS["basket"], [])],
                           gmd_files, grid)
    if query != st.query_params.to_dict():
        st.query_params.from_dict(query)


def default_seeds() -> list[Seed]:
    try:
        window_set = resources.windows()
    except ExplorerError as error:
        st.error(str(error))
        return []
    return seeds_of_rows(window_set, default_seed_rows(window_set.meta))


def seeds_of_rows(window_set: gmd.WindowSet, rows: Sequence[int]) -> list[Seed]:
    """The windows at `rows` as basket seeds, named by `window_label`, as played (`windows_as_played`)."""
    return [Seed(window_label(window_set.meta.iloc[r]), groove)
            for r, groove in zip(rows, windows_as_played(window_set, rows), strict=True)]


def windows_as_played(window_set: gmd.WindowSet, rows: Sequence[int]) -> list[Groove]:
    """The windows at `rows`, each with the drummer's own notes of its bars behind it (explorer/notes/record.py), so
    that a window as played is every note played, on its own pitch."""
    return [with_notes_as_played(groove, window_set.meta.iloc[r])
            for r, groove in zip(rows, window_set.grooves(rows), strict=True)]


def with_notes_as_played(groove: Groove, row: pd.Series,
                         on_error: Callable[[ExplorerError], object] | None = None) -> Groove:
    """A GMD window with the performance's own notes of its bars behind it; a performance shorter than the window
    (repeated to fill it) or a file that cannot be read (told to `on_error`) keeps the model's view alone."""
    if performance_bars(row) < WINDOW_BARS:
        return groove
    try:
        return dataclasses.replace(groove, notes=resources.window_as_played(row["midi_filename"],
                                                                            int(row["start_bar"])))
    except ExplorerError as error:
        if on_error is not None:
            on_error(error)
        return groove


def basket() -> list[Seed]:
    return st.session_state[STATE_KEYS["basket"]]


def remove_seed(index: int) -> None:
    """A button callback: take a seed out of the basket. Every seed picker keeps the seed it showed (the indices
    after it move down one; before, a picker silently showed the next seed, or the first once its index ran out)."""
    basket().pop(index)
    for key in st.session_state.get(SEED_PICKERS, ()):
        chosen = st.session_state.get(key)
        if isinstance(chosen, int) and chosen > index:
            st.session_state[key] = chosen - 1


def basket_index(groove: Groove) -> int | None:
    """Where the basket holds this groove (by what it sounds like), or None."""
    key = groove.content_key()
    return next((i for i, seed in enumerate(basket()) if seed.groove.content_key() == key), None)


def add_to_basket(label: str, groove: Groove) -> None:
    """A button callback: add and say so in a toast."""
    st.toast(add_seed(basket(), Seed(label, groove)))


def add_all_to_basket(items: Sequence[tuple[str, Groove]]) -> None:
    """A button callback: add several, one toast."""
    messages = [add_seed(basket(), Seed(label, groove)) for label, groove in items]
    st.toast(added_message(messages, len(basket())))


def added_message(messages: Sequence[str], basket_size: int, limit: int = BASKET_LIMIT) -> str:
    """One line for several `add_seed` results: how many went in, and why the others did not."""
    added = sum(m.startswith("Added") for m in messages)
    if added == len(messages):
        return f"Added {added} to the basket."
    reasons = []
    if basket_size >= limit:
        reasons.append(f"the basket holds {limit} at most")
    if any("already" in m for m in messages):
        reasons.append("some were in it already")
    if any(m.startswith("Only 4-bar") for m in messages):
        reasons.append("only 4-bar grooves can be seeds")
    return f"Added {added} of {len(messages)} to the basket: {' and '.join(reasons) or 'see each one'}."


def results(page: str) -> list[tuple[str, Groove]]:
    return st.session_state[STATE_KEYS["results"]].get(page, [])


def set_results(page: str, items: list[tuple[str, Groove]], new_generation: bool = True,
                inputs: str | None = None) -> None:
    """Keep a page's results, and what they were made from (`inputs_key`); a new generation gives its widgets new
    keys, so old players and choices go."""
    st.session_state[STATE_KEYS["results"]][page] = items
    st.session_state[f"inputs_{page}"] = inputs
    if new_generation:
        st.session_state[f"generation_{page}"] = st.session_state.get(f"generation_{page}", 0) + 1


def inputs_key(*grooves: Groove | None) -> str:
    """What a page's results are made from (its seeds or beat), as one key; None stands for no groove."""
    return "|".join(groove.content_key() if groove is not None else "-" for groove in grooves)


def drop_stale_results(page: str, inputs: str, button: str, what: str = "The seeds") -> None:
    """Results never outlive their inputs: when the page's seeds (or beat, or rhythm: `what`) are not those its
    results were made from, the results go, and one sentence says why."""
    made_from = st.session_state.get(f"inputs_{page}")
    if results(page) and made_from is not None and made_from != inputs:
        clear_results(page)
        st.info(f"{what} changed since the last run: press **{button}** for new results.")


def clear_results(page: str) -> None:
    st.session_state[STATE_KEYS["results"]].pop(page, None)


def all_results() -> list[tuple[str, str, Groove]]:
    """(page, label, groove) of every page's results, for the latent map."""
    return [(page, label, groove) for page, items in st.session_state[STATE_KEYS["results"]].items()
            for label, groove in items]
