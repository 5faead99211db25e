"""One session's state (explorer/app/state.py): the seed basket's rules, default seeds, seed names, the added
message."""

from __future__ import annotations

import pytest

from explorer.app import state
from explorer.datasets import gmd
from explorer.notes.join import chain
from tests.factories import A, B, read_back


@pytest.fixture(scope="module")
def window_set(groove_dir) -> gmd.WindowSet:
    return gmd.load_windows(root=groove_dir)


def test_add_seed_refuses_duplicates_and_a_full_basket():
    basket: list[state.Seed] = []
    assert state.add_seed(basket, state.Seed("a", A)).startswith("Added")
    assert "already" in state.add_seed(basket, state.Seed("same sound, other name", A))
    assert state.add_seed(basket, state.Seed("b", B), limit=2).startswith("Added")
    assert "at most" in state.add_seed(basket, state.Seed("c", A.with_bpm(90)), limit=2)
    assert [s.label for s in basket] == ["a", "b"]
    assert "4-bar" in state.add_seed([], state.Seed("whole path", chain([A, B])))


def test_default_seeds_are_test_split_beats_of_four_genres(window_set):
    rows = state.default_seed_rows(window_set.meta)
    chosen = window_set.meta.iloc[rows]
    assert list(chosen["genre"]) == list(state.DEFAULT_SEED_GENRES)
    assert set(chosen["split"]) == {"test"} and set(chosen["beat_type"]) == {"beat"}
    assert all(g.hits.sum() > 0 for g in window_set.grooves(rows))
    assert state.default_seed_rows(window_set.meta, ("no-such-genre",)) == []


def test_default_seeds_carry_the_drummers_own_notes_of_their_bars(window_set):
    """Each default seed as played is every note the drummer played in those bars, on its own pitch (pedal hi-hat,
    rim shots …), read here from the whole file, not only the model's 9 drums."""
    from explorer.notes.midi_write import groove_to_midi
    from explorer.notes.record import NoteRecord
    rows = state.default_seed_rows(window_set.meta)
    pitches_beyond_the_model = set()
    for seed, row in zip(state.seeds_of_rows(window_set, rows), rows, strict=True):
        meta = window_set.meta.iloc[row]
        whole = NoteRecord.from_midi((gmd.gmd_root() / meta["midi_filename"]).read_bytes())
        first = int(meta["start_bar"]) * 16
        expected = sorted((n.pitch, n.velocity) for n in whole.notes if first <= whole.step_of(n.tick) < first + 64)
        assert sorted((pitch, velocity) for *_, pitch, velocity in read_back(groove_to_midi(seed.groove))) == expected
        pitches_beyond_the_model |= {pitch for pitch, _ in expected} - {36, 38, 42, 46, 43, 47, 50, 49, 51}
    assert pitches_beyond_the_model  # GMD's drummers play more than the model's nine pitches


def test_window_label_names_genre_drummer_tempo_and_bars(window_set):
    row = window_set.meta.iloc[state.default_seed_rows(window_set.meta)[0]]
    label = state.window_label(row)
    start = int(row["start_bar"]) + 1
    assert label == f"rock · {row['drummer']} · {row['bpm']} bpm · beat · bars {start}-{start + 3}"


def test_adding_several_says_why_some_did_not_go_in():
    full = state.added_message(["Added 'a'", "The basket holds 24 seeds at most; remove one first."],
                               basket_size=24)
    assert full == "Added 1 of 2 to the basket: the basket holds 24 at most."
    assert "in it already" in state.added_message(["Added 'a'", "'b' is already in the basket."], basket_size=3)
    assert state.added_message(["Added 'a'", "Added 'b'"], basket_size=2) == "Added 2 to the basket."
