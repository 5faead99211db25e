"""A groove's own feel: the mean offset of each 16th position of a beat, where it is off the grid, and hits moved to
it keeping their variation. Hand-built grooves and a shuffle file."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.notes.drums import DRUM_CLASSES
from explorer.notes.groove import Groove
from explorer.notes.record import NoteRecord
from explorer.tools.feel import FEEL_OFFSET, feel_of, with_feel
from tests.factories import shuffle

HAT = DRUM_CLASSES.index("closed hi-hat")


def test_a_shuffles_swung_eighths_are_its_feel_and_its_beats_are_on_the_grid():
    view = NoteRecord.from_midi(shuffle(), "shuffle.mid").groove()
    feel = feel_of(view)
    assert np.isnan(feel[[0, 1, 2]]).all()  # on the beat: on the grid; nothing on the 2nd and 3rd 16ths
    assert feel[3] == pytest.approx(2 / 3, abs=0.01)  # two thirds into a beat: a third of a 16th early of the 4th


def test_a_position_just_off_the_grid_has_no_feel_of_its_own():
    view = NoteRecord.from_midi(shuffle(), "shuffle.mid").groove()

    def fourth_16ths_at(offset: float) -> Groove:
        offsets = view.offsets.copy()
        offsets[3::4] = np.where(view.hits[3::4] > 0.5, offset, 0.0)
        return Groove(view.hits, view.velocities, offsets, view.bpm)

    assert np.isnan(feel_of(fourth_16ths_at(FEEL_OFFSET * 0.9))).all()
    assert feel_of(fourth_16ths_at(-FEEL_OFFSET))[3] == pytest.approx(-FEEL_OFFSET)  # laid back as much: a feel


def test_a_position_played_in_few_beats_has_no_feel_of_its_own():
    view = NoteRecord.from_midi(shuffle(), "shuffle.mid").groove()
    beats = view.steps // 4
    hits = view.hits.copy()
    hits[3::4][: beats // 2 + 1] = 0.0  # the swung eighths kept in fewer than half the beats
    sparse = Groove(hits, view.velocities * hits, view.offsets * hits, view.bpm)
    assert np.isnan(feel_of(sparse)).all()
    hits[3::4][beats // 2] = view.hits[3::4][beats // 2]  # in half of them: a feel
    assert feel_of(Groove(hits, view.velocities * hits, view.offsets * hits, view.bpm))[3] == pytest.approx(2 / 3,
                                                                                                           abs=0.01)


def test_hits_on_a_position_with_a_feel_take_its_mean_and_keep_their_spread():
    offsets = np.zeros((16, 9), np.float32)
    offsets[[3, 7, 11, 15], HAT] = [0.1, -0.1, 0.2, 0.0]  # the model's: mean 0.05
    offsets[[2, 6], HAT] = [0.3, -0.3]  # a position without a feel: as the model played it
    cells = offsets != 0
    cells[15, HAT] = True
    feel = np.array([np.nan, np.nan, np.nan, 0.65], np.float32)
    moved = with_feel(feel, offsets, cells)
    np.testing.assert_allclose(moved[[3, 7, 11, 15], HAT], [0.7, 0.5, 0.8, 0.6], atol=1e-6)
    np.testing.assert_array_equal(moved[[2, 6], HAT], offsets[[2, 6], HAT])
    not_new = cells.copy()
    not_new[3, HAT] = False  # a hit not among the cells stays where it was
    assert with_feel(feel, offsets, not_new)[3, HAT] == pytest.approx(0.1)
    assert with_feel(np.array([np.nan, np.nan, np.nan, 0.98]), offsets, cells).max() == 1.0  # never past the grid


def test_hits_the_cells_edge_stops_leave_the_mean_at_the_feel():
    offsets = np.zeros((8, 9), np.float32)
    offsets[[3, 7], HAT] = [0.5, -0.5]  # a wide spread: at 0.8 on average the first would pass the cell's edge
    moved = with_feel(np.array([np.nan, np.nan, np.nan, 0.8]), offsets, offsets != 0)
    assert moved[3, HAT] == 1.0 and moved[7, HAT] == pytest.approx(0.6, abs=1e-4)
