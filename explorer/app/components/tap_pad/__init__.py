"""The tap pad: tap a rhythm on a pad or the space bar while a click plays (tap_pad.js), for Drumify.

The page gets the take as a state value, {bpm, bars, times, velocities}; `take_to_taps` checks it (anything else is
refused with a ValueError: the browser is not trusted) and puts the taps on the 16th grid, their timing kept as
offsets, as `drumify.taps_from_midi` does for a file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explorer.notes.grid import STEPS_PER_BAR, STEPS_PER_QUARTER
from explorer.notes.groove import Groove
from explorer.tools.drumify import taps_on_grid

FOLDER = Path(__file__).parent
MAX_BARS = 16
MAX_TAPS = 64 * MAX_BARS  # four taps a 16th: more is not a rhythm


def take_to_taps(take: object, name: str = "tapped") -> Groove:
    """A take from the pad → taps on `TAP_CLASS`, one per 16th (the loudest), `bars` bars at `bpm`."""
    if not isinstance(take, dict):
        raise ValueError("the tap pad sent no take")
    bpm, bars, times, velocities = (take.get(k) for k in ("bpm", "bars", "times", "velocities"))
    if not (isinstance(bpm, (int, float)) and 20 <= bpm <= 400):
        raise ValueError(f"a take's tempo must be 20-400 bpm, not {bpm!r}")
    if not (isinstance(bars, int) and 1 <= bars <= MAX_BARS):
        raise ValueError(f"a take lasts 1-{MAX_BARS} bars, not {bars!r}")
    if not (isinstance(times, list) and isinstance(velocities, list) and len(times) == len(velocities)
            and len(times) <= MAX_TAPS):
        raise ValueError("a take's times and velocities must be two lists of the same length")
    if not times:
        raise ValueError("no taps were recorded: tap on the pad or the space bar after the count-in")
    step_seconds = 60.0 / bpm / STEPS_PER_QUARTER
    steps = bars * STEPS_PER_BAR
    for time, velocity in zip(times, velocities, strict=True):
        if not (isinstance(time, (int, float)) and isinstance(velocity, (int, float)) and np.isfinite(time)
                and 0 <= time < steps * step_seconds and 1 <= velocity <= 127):
            raise ValueError(f"a tap at {time!r} s with velocity {velocity!r} lies outside the take")
    return taps_on_grid(np.asarray(times, float) / step_seconds, velocities, steps, bpm, name)


def tap_pad(key: str, bpm: int, bars: int):
    """Mounts the pad; returns the last take (a dict as sent, None before the first), kept across reruns."""
    import streamlit as st

    component = st.components.v2.component(
        "groove_explorer_tap_pad",
        html=('<div class="tap-pad"><div class="row"><button class="record">● Record</button>'
              '<button class="stop" disabled>Stop</button><span class="status">Press Record: one bar of click, '
              'then tap.</span></div><button class="pad" aria-label="Tap pad">TAP (or space bar; Shift + space '
              'accents)</button><div class="lane" aria-label="Your taps"></div></div>'),
        css=(FOLDER / "tap_pad.css").read_text(),
        js=(FOLDER / "tap_pad.js").read_text(),
    )
    result = component(key=key, data={"bpm": int(bpm), "bars": int(bars)}, on_take_change=lambda: None)
    return result.get("take") if hasattr(result, "get") else getattr(result, "take", None)
