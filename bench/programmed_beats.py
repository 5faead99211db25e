"""Programmed beats from outside GMD: 4-bar drum-machine patterns (GM kit, 4/4, on the grid, a few velocities), the
kind a producer brings. Sixty of them: twelve styles, each with five variations (hats, an open hat, ride instead
of hats, a crash on bar 1, a tom fill in bar 4). Built here, in code, so nothing comes from the dataset.

    python -m bench.programmed_beats OUT_DIR     # writes them as MIDI files (GM pitches, channel 10)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.notes.groove import Groove
from explorer.notes.midi_write import groove_to_midi

ACCENT, NORMAL, GHOST = 112 / 127, 90 / 127, 40 / 127
K, S, HH, OH, LT, MT, HT, CR, RD = range(NUM_CLASSES)
assert DRUM_CLASSES[RD] == "ride"

# One bar per style: drum → {step: velocity}. Hats are added by the variation.
STYLES = {
    "rock": ({K: {0: ACCENT, 8: NORMAL}, S: {4: ACCENT, 12: ACCENT}}, 120),
    "rock2": ({K: {0: ACCENT, 6: NORMAL, 8: NORMAL}, S: {4: ACCENT, 12: ACCENT}}, 110),
    "funk": ({K: {0: ACCENT, 3: NORMAL, 10: NORMAL}, S: {4: ACCENT, 7: GHOST, 9: GHOST, 12: ACCENT, 15: GHOST}}, 100),
    "disco": ({K: {0: ACCENT, 4: ACCENT, 8: ACCENT, 12: ACCENT}, S: {4: ACCENT, 12: ACCENT}}, 120),
    "house": ({K: {0: ACCENT, 4: ACCENT, 8: ACCENT, 12: ACCENT}, S: {4: NORMAL, 12: NORMAL}}, 124),
    "hiphop": ({K: {0: ACCENT, 7: NORMAL, 10: NORMAL}, S: {4: ACCENT, 12: ACCENT}}, 90),
    "boombap": ({K: {0: ACCENT, 9: NORMAL, 10: NORMAL}, S: {4: ACCENT, 12: ACCENT, 15: GHOST}}, 88),
    "reggae": ({K: {8: ACCENT}, S: {8: ACCENT}}, 76),
    "breakbeat": ({K: {0: ACCENT, 10: NORMAL}, S: {4: ACCENT, 12: ACCENT, 7: GHOST, 14: NORMAL}}, 130),
    "halftime": ({K: {0: ACCENT, 3: NORMAL}, S: {8: ACCENT}}, 140),
    "bossa": ({K: {0: NORMAL, 3: NORMAL, 4: NORMAL, 7: NORMAL, 8: NORMAL, 11: NORMAL, 12: NORMAL, 15: NORMAL},
               S: {0: NORMAL, 3: NORMAL, 6: NORMAL, 10: NORMAL, 13: NORMAL}}, 130),
    "punk": ({K: {0: ACCENT, 4: ACCENT, 8: ACCENT, 12: ACCENT},
              S: {2: ACCENT, 6: ACCENT, 10: ACCENT, 14: ACCENT}}, 180),
}
VARIATIONS = ("8ths", "16ths", "open hat", "ride", "crash and fill")


def beat(style: str, variation: str) -> Groove:
    """Four bars of a style with a variation, at the style's tempo."""
    pattern, bpm = STYLES[style]
    bar = np.zeros((16, NUM_CLASSES), np.float32)
    for drum, notes in pattern.items():
        for step, velocity in notes.items():
            bar[step, drum] = velocity
    timekeeper = RD if variation == "ride" else HH
    every = 1 if variation == "16ths" else 2
    for step in range(0, 16, every):
        bar[step, timekeeper] = ACCENT if step % 4 == 0 else NORMAL if step % 2 == 0 else GHOST
    if variation == "open hat":
        for step in (6, 14):
            bar[step, HH], bar[step, OH] = 0.0, NORMAL
    velocities = np.tile(bar, (4, 1))
    if variation == "crash and fill":
        velocities[0, CR] = ACCENT
        velocities[48 + 8:, :] = 0.0  # the fill: half a bar of toms into the next downbeat
        velocities[56, S], velocities[58, S] = NORMAL, NORMAL
        for step, drum in zip(range(59, 64), (HT, HT, MT, LT, LT), strict=True):
            velocities[step, drum] = ACCENT if step % 2 else NORMAL
        velocities[56, K] = ACCENT
    hits = (velocities > 0).astype(np.float32)
    return Groove(hits, velocities, np.zeros_like(velocities), float(bpm), f"{style}_{variation.replace(' ', '_')}")


def programmed_beats() -> list[Groove]:
    return [beat(style, variation) for style in STYLES for variation in VARIATIONS]


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("programmed_beats")
    out.mkdir(parents=True, exist_ok=True)
    for groove in programmed_beats():
        (out / f"{groove.source}.mid").write_bytes(groove_to_midi(groove))
    print(f"{len(programmed_beats())} beats in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
