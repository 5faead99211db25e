"""Drumify: a rhythm tapped on anything becomes a drummer's groove whose hits land on the taps.

Magenta Studio's Drumify uses a model trained for it alone (`groovae_tap2drum_*`). Here one multi-task model does it
(`hierdec_dist_multitask_4bar`, explorer/model/conditions.py): its encoder was trained on tapified grooves, told by the
"tapify" condition that it sees taps, and its decoder writes the whole groove. Constrained decoding keeps what the
user gave: with `strict`, every tap is played and nothing between them (a tap the model leaves silent gets the drum it
rates likeliest there), and each hit on a tap plays at the tap's own time.

A rhythm of any length (1 to 16 bars on the page) is played 4 bars at a time, each window from its own taps' code, so
a fill tapped in bar 8 is played as one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.errors import MidiError
from explorer.model.conditions import TAP_CLASS, condition, require_multitask, tapify
from explorer.notes.drums import NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR, STEPS_PER_QUARTER
from explorer.notes.groove import Groove
from explorer.notes.midi_read import read_taps
from explorer.tools.generate import cut_windows, paste_windows

MAX_TAP_BARS = 16
# The page's and the CLI's temperature: at 0 the real-vs-generated classifier tells drumified GMD rhythms from the
# real playing 0.74 of the time, at 0.3 already 0.81 (docs/DRUMIFY.md). Raise it for different takes.
DEFAULT_TEMPERATURE = 0.0


@dataclass(frozen=True)
class DrumifyOptions:
    temperature: float = DEFAULT_TEMPERATURE  # how freely the drums are drawn (0: the most likely groove)
    seed: int = 0
    strict: bool = True  # every tap played, nothing between; else the model may add ghost notes and cymbals between
    keep_velocity: bool = True  # the taps' dynamics guide the groove's (else every tap counts the same)
    follow_tap_timing: bool = True  # hits on a tap play at the tap's time (else at the drummer's the model draws)
    feel_weight: float = 0.5  # with a feel groove: 0 = the taps' own code, 1 = the feel groove's

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError("temperature must be 0 or more")
        if not 0.0 <= self.feel_weight <= 1.0:
            raise ValueError("feel_weight must lie in [0, 1]")


def taps_from_midi(data: bytes, name: str = "") -> Groove:
    """Every note of a MIDI file, on any pitch and channel, as a tap on the 16th grid (its timing kept as offsets,
    the loudest tap of a step kept): a groove with one lane, `TAP_CLASS`, of 1 to MAX_TAP_BARS bars."""
    ticks_per_beat, bpm, taps = read_taps(data, name)
    positions = np.array([tick for tick, _ in taps]) / (ticks_per_beat / STEPS_PER_QUARTER)
    bars = int(np.floor(positions.max() + 0.5)) // STEPS_PER_BAR + 1
    if bars > MAX_TAP_BARS:
        raise MidiError(f"'{name}' lasts {bars} bars of taps; Drumify plays up to {MAX_TAP_BARS} at a time.")
    return taps_on_grid(positions, [velocity for _, velocity in taps], bars * STEPS_PER_BAR, bpm,
                        Path(name).stem if name else "taps")


def taps_on_grid(positions, velocities, steps: int, bpm: float, name: str) -> Groove:
    """Taps at `positions` (in 16ths from the start) with MIDI `velocities` → a groove of `steps` steps with one lane,
    `TAP_CLASS`: each tap on its nearest 16th (half up), its timing kept as the offset; of taps on one 16th the
    loudest (the later of equals) counts. The file reader's and the tap pad's taps both go through here."""
    positions = np.asarray(positions, float)
    on = np.clip(np.floor(positions + 0.5).astype(int), 0, steps - 1)
    hits, loud, offsets = (np.zeros((steps, NUM_CLASSES), np.float32) for _ in range(3))
    for index in np.argsort(velocities, kind="stable"):  # the loudest tap of a step comes last: it wins
        step = on[index]
        hits[step, TAP_CLASS] = 1.0
        loud[step, TAP_CLASS] = velocities[index] / 127
        offsets[step, TAP_CLASS] = np.clip(2.0 * (step - positions[index]), -1.0, 1.0)
    return Groove(hits, loud, offsets, float(bpm), name)


def taps_of(groove: Groove) -> Groove:
    """A groove's own rhythm as taps (at each step its loudest hit, on `TAP_CLASS`): what the model was trained to
    read for Drumify, and how a groove from the basket is drumified."""
    return Groove.from_tensor(tapify(groove.tensor()), groove.bpm, f"{groove.source} (taps)")


def drumify(model, taps: Groove, feel_z: np.ndarray | None = None, options: DrumifyOptions = DrumifyOptions(),
            takes: int = 1) -> list[Groove]:
    """`takes` grooves (seeds options.seed, +1, …) on the rhythm of `taps` (a groove whose hits are taps; any lane
    counts), each as long as the taps. `feel_z`: a latent code to play in the feel of (a seed's or a genre's:
    `humanize.feel_code`), mixed with each window's own by `options.feel_weight`. Raises CheckpointError for a
    model not trained to read taps."""
    require_multitask(model, "Drumify")
    steps = model.config.steps
    tap_steps = taps.hits.max(axis=1) > 0.5
    if not tap_steps.any():
        raise MidiError("There are no taps to drumify.")
    tensor = tapify(taps.tensor(), options.keep_velocity)
    windows, starts = cut_windows(Groove.from_tensor(tensor, taps.bpm), steps)
    code = condition("tapify", steps)
    inputs = np.concatenate([windows, np.broadcast_to(code, (len(windows), *code.shape))], -1)
    z, _ = model.encode(inputs)
    if feel_z is not None:
        z = (1 - options.feel_weight) * z + options.feel_weight * np.asarray(feel_z, np.float32)
    tapped = windows[..., TAP_CLASS] > 0.5  # [W, steps]
    allowed = np.repeat(tapped[..., None], NUM_CLASSES, axis=-1) if options.strict else None
    grooves = []
    for take in range(takes):
        decoded = model.decode(z, options.temperature, options.seed + take, allowed=allowed)
        if options.strict:
            decoded = _every_tap_played(model, z, decoded, tapped, options.temperature, options.seed + take)
        played = paste_windows(decoded, starts, taps.steps)
        if options.follow_tap_timing:
            on_tap = (played[:, :NUM_CLASSES] > 0.5) & tap_steps[:, None]
            played[:, 2 * NUM_CLASSES:] = np.where(on_tap, tensor[:, 2 * NUM_CLASSES + TAP_CLASS, None],
                                                   played[:, 2 * NUM_CLASSES:])
        grooves.append(Groove.from_tensor(played, taps.bpm, f"{taps.source} drumified {take + 1}"))
    return grooves


def _every_tap_played(model, z: np.ndarray, decoded: np.ndarray, tapped: np.ndarray, temperature: float,
                      seed: int) -> np.ndarray:
    """The decoded windows with a hit on every tap: a tap the model left silent gets the drum it rated likeliest
    there (its hit logit given what was played before), and the windows are played again on those hits."""
    hits = decoded[..., :NUM_CLASSES] > 0.5
    silent = tapped & ~hits.any(axis=-1)
    if not silent.any():
        return decoded
    likeliest = np.argmax(model.hit_logits(z, decoded), axis=-1)  # [W, steps]
    window, step = np.nonzero(silent)
    hits[window, step, likeliest[window, step]] = True
    return model.decode(z, temperature, seed, given_hits=hits)
