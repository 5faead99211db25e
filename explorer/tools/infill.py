"""Infill: the model writes one or more drums of a beat anew (add hats to a kick-and-snare sketch, re-play a stiff
kick) while every other note stays exactly as it was: Magenta's `groovae_2bar_add_closed_hh`, for any drum.

The multi-task model (explorer/model/conditions.py) was trained on grooves with drums dropped, told which ones by the
condition's visibility mask, to write the whole groove. Here its encoder reads the beat without the chosen drums, and
its decoder is held to the other drums' hits (`given_cells`): only the chosen drums are drawn. What comes back keeps
the other drums' hits, velocities and timing as they were; a beat that carries the musician's file (`Groove.notes`)
keeps every other note of the file, its pitches, tracks and exact ticks, and gets the new drums as notes of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from explorer.errors import ExplorerError
from explorer.model.conditions import condition, require_multitask
from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.notes.groove import Groove
from explorer.notes.record import NoteRecord
from explorer.tools.feel import feel_of, with_feel
from explorer.tools.generate import cut_windows, paste_windows


class DrumChoiceError(ExplorerError, ValueError):
    """Drums to write that are not drums of the model, or none, or all of them."""


@dataclass(frozen=True)
class InfillOptions:
    temperature: float = 0.0  # how freely the new drums are drawn (0: the most likely)
    seed: int = 0

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError("temperature must be 0 or more")


def drum_indices(drums: Sequence[str]) -> list[int]:
    """The classes of drum names (as `DRUM_CLASSES` spells them), at least one and not all."""
    unknown = [d for d in drums if d not in DRUM_CLASSES]
    if unknown:
        raise DrumChoiceError(f"Unknown drum {', '.join(repr(d) for d in unknown)}: choose from "
                              f"{', '.join(DRUM_CLASSES)}.")
    chosen = sorted({DRUM_CLASSES.index(d) for d in drums})
    if not chosen:
        raise DrumChoiceError("Choose at least one drum to write.")
    if len(chosen) == NUM_CLASSES:
        raise DrumChoiceError("Keep at least one drum: with every drum chosen there is nothing to write around.")
    return chosen


def infill(model, groove: Groove, drums: Sequence[str], options: InfillOptions = InfillOptions(),
           takes: int = 1) -> list[Groove]:
    """`takes` versions of `groove` (seeds options.seed, +1, …) with `drums` written new by the model and every other
    drum as it was; as long as the groove (4 bars at a time)."""
    require_multitask(model, "infilling")
    written = drum_indices(drums)
    steps = model.config.steps
    tensor = groove.model_view().tensor()
    windows, starts = cut_windows(Groove.from_tensor(tensor, groove.bpm), steps)
    hidden = windows.copy()
    for block in range(3):  # hits, velocities and offsets of the chosen drums: not shown to the encoder
        hidden[..., [block * NUM_CLASSES + d for d in written]] = 0.0
    visible = np.ones((steps, NUM_CLASSES), np.float32)
    visible[:, written] = 0.0
    code = condition("drop_drums", steps, visible)
    z, _ = model.encode(np.concatenate([hidden, np.broadcast_to(code, (len(windows), *code.shape))], -1))
    kept = np.broadcast_to(visible > 0.5, (*windows.shape[:2], NUM_CLASSES))
    label = ", ".join(DRUM_CLASSES[d] for d in written)
    feel = feel_of(Groove.from_tensor(tensor, groove.bpm))  # the groove's own swing, kept in the drums written new
    results = []
    for take in range(takes):
        decoded = model.decode(z, options.temperature, options.seed + take, given_hits=windows[..., :NUM_CLASSES],
                               given_cells=kept)
        played = paste_windows(decoded, starts, len(tensor))
        for block in range(3):  # the kept drums exactly as they were, not as the model would play them
            columns = [block * NUM_CLASSES + d for d in range(NUM_CLASSES) if d not in written]
            played[:, columns] = tensor[:, columns]
        new = np.zeros((len(played), NUM_CLASSES), bool)
        new[:, written] = played[:, written] > 0.5
        played[:, 2 * NUM_CLASSES:] = with_feel(feel, played[:, 2 * NUM_CLASSES:], new)
        result = Groove.from_tensor(played, groove.bpm, f"{groove.source} with new {label} {take + 1}")
        results.append(_with_notes(result, groove, written) if groove.notes is not None else result)
    return results


def written_onto(record: NoteRecord, result: Groove, cells: np.ndarray, removed=(), bars: int = 0) -> Groove:
    """`result` as the musician's file: `record` with its notes at `removed` taken out and the result's hits in
    `cells` [steps, 9] added as notes (`NoteRecord.new_notes`), at least `bars` long; named as the result."""
    edited = record.edited(removed, record.new_notes(result, cells), bars=max(bars, record.bars))
    return replace(edited.groove(), source=result.source)


def _with_notes(result: Groove, original: Groove, written: list[int]) -> Groove:
    """The result with the original's file: its notes of the written drums replaced by the result's."""
    cells = np.zeros(result.hits.shape, bool)
    cells[:, written] = True
    removed = [i for i, note in enumerate(original.notes.notes) if note.drum_class in written]
    return written_onto(original.notes, result, cells, removed)
