"""The grid: 16th-note steps, 4-bar windows, MIDI ticks, and tempos as files state them."""

from __future__ import annotations

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
WINDOW_BARS = 4
WINDOW_STEPS = WINDOW_BARS * STEPS_PER_BAR
TICKS_PER_QUARTER = 480  # GMD's own resolution: written onsets land on the original ticks
MAX_WRITTEN_SHIFT = 0.5 - STEPS_PER_QUARTER / TICKS_PER_QUARTER  # in steps: half a step less one tick


def tidy_bpm(bpm: float) -> float:
    """A tempo read from a file: MIDI stores whole microseconds per quarter, so 290 bpm reads back as 290.0008; such
    a tempo is the whole number it was written as."""
    return float(round(bpm)) if abs(bpm - round(bpm)) < 1e-3 else float(bpm)


def step_seconds(bpm: float) -> float:
    return 60.0 / bpm / STEPS_PER_QUARTER
