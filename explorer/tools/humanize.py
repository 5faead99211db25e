"""Humanize: a programmed beat played with a drummer's dynamics and micro-timing, by the model we ship.

Magenta Studio's "Groove" needs a model trained for it. Here the MusicVAE itself does it, by constrained decoding:
the decoder runs autoregressively as usual, but every step's hits are the beat's own, and the model supplies only
their velocities and offsets (drawn from its per-hit distributions at temperature T; T = 0 takes each one's median).
The latent code decides the feel: the beat's own encoding, another groove's (a GMD jazz performance, say, to play
the beat with that drummer's feel), or a blend of the two. The model's encoder learnt from real playing, so a
programmed beat encodes as stiff playing; its own code is moved along the "humanness" direction first, the mean of
mu(real) − mu(quantized real) over GMD training windows (measured in docs/HUMANIZE.md: it halves the gap to real
timing).

A beat of any length is played 4 bars at a time with one latent code for the whole beat (the mean of its windows'
codes), so the feel carries across windows; the hierarchical decoder starts every bar afresh from its bar's
embedding anyway, so a window's seam is no different from a bar line inside it. A beat shorter than the model's
window is repeated to fill one, and cut back after.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explorer.errors import DatasetError
from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.notes.groove import Groove
from explorer.notes.record import NoteRecord
from explorer.tools.feel import feel_of, with_feel
from explorer.tools.generate import cut_windows, paste_windows


@dataclass(frozen=True)
class HumanizeOptions:
    temperature: float = 0.5  # how loosely timing and dynamics are drawn (0: each hit's median)
    seed: int = 0
    amount: float = 1.0  # 0 leaves the beat as it is, 1 plays it wholly as the model does
    keep_velocities: bool = False  # timing only
    keep_timing: bool = False  # dynamics only
    untouched: tuple[str, ...] = ()  # drum classes left exactly as programmed (a sampled kick, say)
    feel_weight: float = 1.0  # with a feel groove: 0 = the beat's own feel, 1 = the feel groove's
    drummer_levels: bool = False  # each drum at the drummer's level (a kick near GMD's 55), not at its programmed one

    def __post_init__(self):
        if not 0.0 <= self.amount <= 1.0:
            raise ValueError("amount must lie in [0, 1]")
        if not 0.0 <= self.feel_weight <= 1.0:
            raise ValueError("feel_weight must lie in [0, 1]")
        if self.temperature < 0:
            raise ValueError("temperature must be 0 or more")
        unknown = [d for d in self.untouched if d not in DRUM_CLASSES]
        if unknown:
            raise ValueError(f"unknown drum {unknown[0]!r}; the drums are {', '.join(DRUM_CLASSES)}")


def feel_code(model, grooves: Sequence[Groove]) -> np.ndarray:
    """One latent code [z] for the feel of these grooves: the mean `mu` of all their windows."""
    windows = np.concatenate([cut_windows(g, model.config.steps)[0] for g in grooves])
    mu, _ = model.encode(windows)
    return mu.mean(axis=0)


def humanness_direction(model, real_windows: np.ndarray) -> np.ndarray:
    """[z]: the mean of mu(window) − mu(its quantized copy) over real windows [N, steps, 27]."""
    real_windows = np.asarray(real_windows, np.float32)
    quantized = real_windows.copy()
    hits = real_windows[..., :NUM_CLASSES] > 0.5
    quantized[..., NUM_CLASSES:2 * NUM_CLASSES] = np.where(hits, QUANTIZED_VELOCITY, 0.0)
    quantized[..., 2 * NUM_CLASSES:] = 0.0
    mu_real, _ = model.encode(real_windows)
    mu_quantized, _ = model.encode(quantized)
    return (mu_real - mu_quantized).mean(axis=0)


DIRECTION_WINDOWS = 512  # GMD training windows the humanness direction averages over (~2 s to encode twice)


def direction_for(model) -> np.ndarray | None:
    """The model's humanness direction from DIRECTION_WINDOWS GMD training windows (a fixed draw); None when the
    dataset is not here. Computed on each call: the app keeps it per checkpoint, the CLI needs it once."""
    from explorer.datasets import gmd  # pandas: only when GMD is read (the CLI starts without it)
    try:
        train = gmd.load_windows("train")
    except DatasetError:
        return None
    rows = np.sort(np.random.default_rng(0).choice(len(train), min(DIRECTION_WINDOWS, len(train)), replace=False))
    return humanness_direction(model, train.tensors[rows])


def humanize(model, beat: Groove, feel: Groove | None = None, options: HumanizeOptions = HumanizeOptions(),
             direction: np.ndarray | None = None) -> Groove:
    """The beat with the model's velocities and offsets on its own hits (never a hit more or less), at its tempo.
    Its own latent code is moved by `direction` (see `humanness_direction`; None: not moved); `feel` (optional)
    lends its code, mixed with the beat's own by `options.feel_weight`."""
    if options.amount == 0 or not beat.hits.any():
        return beat
    z = feel_code(model, [beat])
    if direction is not None:
        z = z + direction
    if feel is not None:
        z = (1 - options.feel_weight) * z + options.feel_weight * feel_code(model, [feel])
    steps = model.config.steps
    windows, starts = cut_windows(beat, steps)
    decoded = model.decode(np.repeat(z[None], len(windows), axis=0), options.temperature, options.seed,
                           given_hits=windows[..., :NUM_CLASSES])
    played = paste_windows(decoded, starts, beat.steps)
    hits = beat.hits > 0.5
    dynamics = with_dynamics(beat, played[:, NUM_CLASSES:2 * NUM_CLASSES], options.drummer_levels)
    velocities = _mix(beat.velocities, dynamics, options.amount, hits)
    offsets = _mix(beat.offsets, with_feel(feel_of(beat), played[:, 2 * NUM_CLASSES:], hits), options.amount, hits)
    keep = np.zeros(NUM_CLASSES, bool)
    keep[[DRUM_CLASSES.index(d) for d in options.untouched]] = True
    if options.keep_velocities:
        velocities = beat.velocities
    if options.keep_timing:
        offsets = beat.offsets
    velocities = np.where(keep, beat.velocities, velocities)
    offsets = np.where(keep, beat.offsets, offsets)
    offsets = np.where(hits, np.clip(offsets, beat.offsets - MAX_SHIFT, beat.offsets + MAX_SHIFT), 0.0)
    velocities = np.where(hits, np.maximum(velocities, velocity_floor(beat.velocities * 127) / 127), 0.0)
    return Groove(beat.hits, velocities, offsets, beat.bpm, f"{beat.source} (humanized)" if beat.source else
                  "humanized", beat.tempo_changes)


LOUD_VELOCITY = 90  # a note programmed this loud (MIDI) or louder …
AUDIBLE_VELOCITY = 25  # … is never played softer than this;
KEPT_SHARE = 1 / 3  # and no note softer than this share of its programmed velocity (a ghost stays a ghost)
MAX_SHIFT = 0.7  # in the tensor's offset units (±1 = half a 16th): a hit moves at most 35 % of a 16th from where it
# was programmed (GMD's timing sd is 0.19 of a 16th; a shift of half a 16th changes the rhythm, not its feel)


def velocity_floor(programmed: np.ndarray) -> np.ndarray:
    """The softest each note may be played (MIDI), from its programmed velocity (MIDI): audible when it was loud,
    and never below a third of what it was."""
    programmed = np.asarray(programmed, float)
    return np.maximum(np.where(programmed >= LOUD_VELOCITY, AUDIBLE_VELOCITY, 0.0), programmed * KEPT_SHARE)


def with_dynamics(beat: Groove, played: np.ndarray, drummer_levels: bool = False) -> np.ndarray:
    """The model's velocities [steps, 9] on the beat's hits, drum by drum: each hit keeps its programmed velocity
    and moves by how far the model played it above or below the model's mean for that drum. So each drum stays at the
    level it was programmed at, its programmed accents stay, and the drummer's accents and ghosts shape the notes
    around it. With `drummer_levels`, each drum is at the model's mean level instead (a kick near GMD's 55 whatever
    was programmed), its programmed accents still kept."""
    hits = beat.hits > 0.5
    counts = np.maximum(hits.sum(axis=0), 1)
    programmed = (beat.velocities * hits).sum(axis=0) / counts
    drummer = (played * hits).sum(axis=0) / counts
    level = drummer if drummer_levels else programmed
    velocities = level + (beat.velocities - programmed) + (played - drummer)
    return np.where(hits, np.clip(velocities, 1 / 127, 1.0), 0.0).astype(np.float32)


MIN_GAP_SECONDS = 0.030  # two hits of one drum closer than this are a flam: only where the input had one


def humanize_record(model, record: NoteRecord, feel: Groove | None = None,
                    options: HumanizeOptions = HumanizeOptions(),
                    direction: np.ndarray | None = None) -> tuple[Groove, NoteRecord]:
    """A musician's file humanized note for note: (the model's view played, the file with its notes played).
    The model plays the cells of the file's model view (`humanize`); each cell's main note takes the cell's new
    velocity and timing, and the other notes of the cell (a flam's grace note, a ghost) move with it: the same
    shift, their velocity scaled as the main note's. Every note keeps its pitch, channel and track, and:
    - every note stays within half a 16th of its own step (so never past the neighbouring 16th, and the file,
      read again, has the same model view);
    - two notes of one drum come no closer than the input had them, nor within MIN_GAP_SECONDS unless the input
      had them so (a pair that would is played as programmed);
    - no note moves more than MAX_SHIFT from where it was programmed;
    - a note programmed at LOUD_VELOCITY or more stays at AUDIBLE_VELOCITY or more, and none comes out softer than
      KEPT_SHARE of its programmed velocity."""
    beat = record.groove()
    played = humanize(model, beat.model_view(), feel, options, direction)
    notes = map_onto_notes(record, played)
    return dataclasses.replace(played, notes=notes), notes


def map_onto_notes(record: NoteRecord, played: Groove) -> NoteRecord:
    """`record` with its notes moved as `played` plays the cells of its model view (`humanize_record`)."""
    notes = record.notes
    original = np.array([note.tick for note in notes], float)
    ticks, velocities = record.played_as(played)
    ticks = np.round(ticks)
    velocities = np.maximum(velocities, velocity_floor([note.velocity for note in notes]))
    min_gap = MIN_GAP_SECONDS * record.bpm / 60 * record.ticks_per_beat
    by_class: dict[int, list[int]] = {}
    for index in np.argsort(original, kind="stable"):
        if notes[index].drum_class is not None:
            by_class.setdefault(notes[index].drum_class, []).append(int(index))
    changed = True
    while changed:  # each pass plays more notes as programmed, and the input itself breaks no rule: it ends
        changed = False
        for order in by_class.values():
            for earlier, later in itertools.pairwise(order):
                required = min(original[later] - original[earlier], min_gap)
                if ticks[later] - ticks[earlier] < required:
                    ticks[[earlier, later]] = original[[earlier, later]]
                    changed = True
    return record.with_notes(ticks, velocities)


def _mix(original: np.ndarray, played: np.ndarray, amount: float, hits: np.ndarray) -> np.ndarray:
    """(1 − amount) · original + amount · played on the hits; 0 elsewhere."""
    return np.where(hits, (1 - amount) * original + amount * played, 0.0).astype(np.float32)


QUANTIZED_VELOCITY = 100 / 127  # a drum machine's default


def quantize(groove: Groove, velocity: float = QUANTIZED_VELOCITY) -> Groove:
    """The groove as a drum machine programs it: every hit on the grid at one velocity (GMD's humanize test)."""
    hits = groove.hits > 0.5
    return Groove(groove.hits, np.where(hits, velocity, 0.0), np.zeros_like(groove.offsets), groove.bpm,
                  groove.source, groove.tempo_changes)


def quantize_at_levels(groove: Groove) -> Groove:
    """The groove as a producer programs it: every hit on the grid, each drum at one velocity, its mean in the
    groove (a kick at the kick's level, hats at theirs)."""
    hits = groove.hits > 0.5
    levels = np.round((groove.velocities * hits).sum(axis=0) / np.maximum(hits.sum(axis=0), 1) * 127) / 127
    return Groove(groove.hits, np.where(hits, levels, 0.0).astype(np.float32), np.zeros_like(groove.offsets),
                  groove.bpm, groove.source, groove.tempo_changes)


def jitter(groove: Groove, velocity_mean: float, velocity_sd: float, offset_mean: float, offset_sd: float,
           seed: int = 0) -> Groove:
    """The naive humanizer: each hit's velocity and offset drawn from Gaussians (in the tensor's units), clipped to
    their ranges. The baseline `humanize` has to beat."""
    rng = np.random.default_rng(seed)
    hits = groove.hits > 0.5
    velocities = np.clip(rng.normal(velocity_mean, velocity_sd, hits.shape), 1 / 127, 1.0)
    offsets = np.clip(rng.normal(offset_mean, offset_sd, hits.shape), -1.0, 1.0)
    return Groove(groove.hits, np.where(hits, velocities, 0.0), np.where(hits, offsets, 0.0), groove.bpm,
                  groove.source, groove.tempo_changes)
