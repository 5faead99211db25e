"""A groove's own feel on the grid (swing, a shuffle, a laid-back backbeat), kept in the hits the tools write.

The model hears time on 16ths. A shuffle's swung eighth, two thirds into a beat, sits on the beat's fourth 16th,
0.67 of the offset units early, and the model plays a hit there near the grid, so a shuffle would come back
straightened. A groove's feel is the mean offset of its hits on each of a beat's four 16th positions: where that is
FEEL_OFFSET or more off the grid on a position played in most beats, the tools move their hits on that position by
the difference between the groove's mean and theirs, and keep the model's variation around it.
"""

from __future__ import annotations

import numpy as np

from explorer.notes.grid import STEPS_PER_QUARTER as POSITIONS  # a beat's 16th positions
from explorer.notes.groove import Groove

FEEL_OFFSET = 0.5  # offset units (a quarter of a 16th): a position whose hits sit this far off the grid on average …
FEEL_SHARE = 0.5  # … and that is played in at least this share of the beats has a feel of its own. On one window of
# each GMD test performance, 23 of 129 have one (jazz, a Purdie shuffle, bembe, reggae, some rock and punk); with a
# tenth of a 16th, 92 would (a drummer's own micro-timing: left to the model)
CLIP_ROUNDS = 20  # rounds of moving a position's hits until their mean, clipped to the grid cell, is the feel's


def feel_of(groove: Groove) -> np.ndarray:
    """[4] the mean offset of the groove's hits on each 16th position of a beat, where it is FEEL_OFFSET or more off
    the grid and played in FEEL_SHARE of the beats; NaN elsewhere."""
    hits = groove.hits > 0.5
    positions = np.arange(groove.steps) % POSITIONS
    feel = np.full(POSITIONS, np.nan, np.float32)
    for position in range(POSITIONS):
        on = hits & (positions == position)[:, None]
        often = on.any(axis=1).sum() >= FEEL_SHARE * groove.steps / POSITIONS
        if often and abs(groove.offsets[on].mean()) >= FEEL_OFFSET:
            feel[position] = groove.offsets[on].mean()
    return feel


def with_feel(feel: np.ndarray, offsets: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """`offsets` [steps, 9] with the hits in `cells` [steps, 9] (bool) moved, position by position, so that their
    mean is `feel`'s (`feel_of`) where it has one; each keeps its distance from the others, but for those the grid
    cell's edge (±1) stops: the rest then move a little further, so that the mean is still the feel's."""
    offsets = np.array(offsets, np.float32)
    positions = np.arange(len(offsets)) % POSITIONS
    for position in np.flatnonzero(~np.isnan(feel)):
        on = cells & (positions == position)[:, None]
        if on.any():
            played, shift = offsets[on], 0.0
            for _ in range(CLIP_ROUNDS):  # the clipped mean rises with the shift: a few rounds find it
                shift += feel[position] - np.clip(played + shift, -1.0, 1.0).mean()
            offsets[on] = played + shift
    return np.clip(offsets, -1.0, 1.0)
