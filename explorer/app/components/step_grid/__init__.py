"""The step grid: program a beat in the browser, 9 drums × 16 steps a bar, 1–4 bars, and hear it loop while you edit
(step_grid.js, on the Web Audio clock, with the sidebar kit's own samples).

A beat is a plain value, shared by the page, the component and the address:
    {"bars": 1-4, "bpm": 40-240, "swing": 50-75, "hits": [[row, step, level], ...]}
`row` is a drum (`DRUM_CLASSES` order), `step` a 16th from the start, `level` one of LEVELS (ghost, normal,
accent). Swing is the MPC's: the share of each 8th its first 16th takes (50 straight, 66 a triplet feel, 75 the
most). Anything the browser sends is checked (`check_beat`: a ValueError in words); `beat_to_groove` gives the
model's view, `groove_to_beat` opens any groove in the grid, and `beat_to_text` / `text_to_beat` keep a beat in the
page's address.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from explorer.app.components import web_audio_js
from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES, OUTPUT_PITCHES
from explorer.notes.grid import STEPS_PER_BAR, WINDOW_STEPS
from explorer.notes.groove import Groove

FOLDER = Path(__file__).parent
MAX_BARS = 4
LEVELS = {1: ("ghost", 40), 2: ("normal", 90), 3: ("accent", 120)}  # level → (name, MIDI velocity)
MIN_BPM, MAX_BPM = 40, 240
MIN_SWING, MAX_SWING = 50, 75
EMPTY_BEAT = {"bars": 1, "bpm": 100, "swing": 50, "hits": []}


def check_beat(beat: object) -> dict:
    """The beat, if it is one (see the module's docstring); else a ValueError saying what is wrong."""
    if not isinstance(beat, dict):
        raise ValueError("the step grid sent no beat")
    bars, bpm, swing, hits = (beat.get(k) for k in ("bars", "bpm", "swing", "hits"))
    if not (isinstance(bars, int) and not isinstance(bars, bool) and 1 <= bars <= MAX_BARS):
        raise ValueError(f"a beat lasts 1-{MAX_BARS} bars, not {bars!r}")
    if not (isinstance(bpm, (int, float)) and not isinstance(bpm, bool) and MIN_BPM <= bpm <= MAX_BPM):
        raise ValueError(f"a beat's tempo must be {MIN_BPM}-{MAX_BPM} bpm, not {bpm!r}")
    if not (isinstance(swing, (int, float)) and not isinstance(swing, bool) and MIN_SWING <= swing <= MAX_SWING):
        raise ValueError(f"swing must be {MIN_SWING}-{MAX_SWING} %, not {swing!r}")
    if not isinstance(hits, list) or len(hits) > NUM_CLASSES * bars * STEPS_PER_BAR:
        raise ValueError("a beat's hits must be a list of [drum, step, level], one per cell at most")
    cells = set()
    for hit in hits:
        if not (isinstance(hit, list) and len(hit) == 3 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                for v in hit)):
            raise ValueError(f"a hit must be [drum, step, level] in whole numbers, not {hit!r}")
        row, step, level = hit
        if not (0 <= row < NUM_CLASSES and 0 <= step < bars * STEPS_PER_BAR and level in LEVELS):
            raise ValueError(f"the hit {hit!r} lies outside the grid")
        if (row, step) in cells:
            raise ValueError(f"two hits on one cell: drum {row}, step {step}")
        cells.add((row, step))
    return {"bars": bars, "bpm": float(bpm), "swing": float(swing), "hits": sorted(hits)}


def swing_offset(swing: float) -> float:
    """The tensor offset of an off-beat 16th at `swing` % (negative: late; ±1 is half a step)."""
    return -2.0 * (2.0 * swing / 100.0 - 1.0)


def beat_to_groove(beat: object, name: str = "grid beat") -> Groove:
    """The model's view of a beat: each hit at its level's velocity, off-beat 16ths (the 2nd and 4th of each beat)
    played late by the swing."""
    beat = check_beat(beat)
    steps = beat["bars"] * STEPS_PER_BAR
    hits, velocities, offsets = (np.zeros((steps, NUM_CLASSES), np.float32) for _ in range(3))
    for row, step, level in beat["hits"]:
        hits[step, row] = 1.0
        velocities[step, row] = LEVELS[level][1] / 127
        offsets[step, row] = swing_offset(beat["swing"]) if step % 2 else 0.0
    return Groove(hits, velocities, offsets, beat["bpm"], name)


def beat_as_seed(beat: object, name: str = "grid beat") -> Groove:
    """The beat looped to 4 bars (a 3-bar beat: bars 1, 2, 3, 1): a seed for every page that takes one."""
    groove = beat_to_groove(beat, name)
    looped = groove.repeated(-(-WINDOW_STEPS // groove.steps))
    return looped.window(0, WINDOW_STEPS // STEPS_PER_BAR) if looped.steps > WINDOW_STEPS else looped


def groove_to_beat(groove: Groove) -> dict:
    """A groove on the grid, to edit: its first MAX_BARS bars, each hit on its 16th at the nearest level; tempo kept
    (within the grid's range), swing straight."""
    bars = int(min(MAX_BARS, max(1, groove.steps // STEPS_PER_BAR)))
    velocities = {level: velocity for level, (_, velocity) in LEVELS.items()}
    hits = []
    for step, row in zip(*np.nonzero(groove.hits[:bars * STEPS_PER_BAR] > 0.5), strict=True):
        midi = float(groove.velocities[step, row]) * 127
        level = min(velocities, key=lambda key: abs(velocities[key] - midi))
        hits.append([int(row), int(step), level])
    return check_beat({"bars": bars, "bpm": round(min(MAX_BPM, max(MIN_BPM, groove.bpm))), "swing": 50,
                       "hits": hits})


def beat_to_text(beat: dict) -> str:
    """A beat as a short text for the address: 'bpm.swing.bars.' and 2 bits a cell, base64url."""
    beat = check_beat(beat)
    levels = np.zeros((NUM_CLASSES, beat["bars"] * STEPS_PER_BAR), np.uint8)
    for row, step, level in beat["hits"]:
        levels[row, step] = level
    packed = np.packbits(np.unpackbits(levels.reshape(-1, 1), axis=1)[:, -2:].reshape(-1))
    return (f"{beat['bpm']:g}.{beat['swing']:g}.{beat['bars']}."
            + base64.urlsafe_b64encode(packed.tobytes()).decode().rstrip("="))


def text_to_beat(text: str) -> dict:
    """`beat_to_text` undone; a ValueError for anything else (a hand-edited or truncated address)."""
    try:
        bpm, swing, bars, cells = str(text).split(".", 3)
        bars = int(bars)
        if not 1 <= bars <= MAX_BARS:
            raise ValueError
        raw = base64.urlsafe_b64decode(cells + "=" * (-len(cells) % 4))
        count = NUM_CLASSES * bars * STEPS_PER_BAR
        bits = np.unpackbits(np.frombuffer(raw, np.uint8))
        if len(bits) < 2 * count:
            raise ValueError
        levels = (2 * bits[0:2 * count:2] + bits[1:2 * count:2]).reshape(NUM_CLASSES, -1)
    except (ValueError, TypeError) as error:
        raise ValueError(f"'{str(text)[:40]}' is not a beat of the step grid") from error
    hits = [[int(row), int(step), int(levels[row, step])] for row, step in zip(*np.nonzero(levels), strict=True)]
    return check_beat({"bars": bars, "bpm": float(bpm), "swing": float(swing), "hits": hits})


def step_grid(key: str, beat: dict, revision: int, samples: dict[str, str]):
    """Mounts the grid showing `beat` (taken up by the browser when `revision` changes: a beat opened from a card or
    the address; otherwise the browser's own edits stand). `samples`: drum row → the address of a WAV of one
    hit on the sidebar's kit (`ui.kit_samples`). Returns the browser's last beat (unchecked), or None before its
    first edit."""
    import streamlit as st

    component = st.components.v2.component(
        "groove_explorer_step_grid",
        html='<div class="step-grid"></div>',
        css=(FOLDER / "step_grid.css").read_text(),
        js=web_audio_js() + (FOLDER / "step_grid.js").read_text(),
    )
    data = {"beat": beat, "revision": int(revision), "rows": list(DRUM_CLASSES), "samples": samples,
            "pitches": list(OUTPUT_PITCHES),
            "levels": {str(level): velocity for level, (_, velocity) in LEVELS.items()},
            "limits": {"bars": MAX_BARS, "bpm": [MIN_BPM, MAX_BPM], "swing": [MIN_SWING, MAX_SWING]}}
    result = component(key=key, data=data, on_beat_change=lambda: None)
    return result.get("beat") if hasattr(result, "get") else getattr(result, "beat", None)
