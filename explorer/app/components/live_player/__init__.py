"""The live player: one looping player per page that moves to the next groove on the next bar line, without a stop
or a click (live_player.js, on the Web Audio clock with the sidebar kit's one-shots; MIDI out where the browser has
Web MIDI). Generate's results and Interpolate's steps are a row of buttons; Blend's grid is a pad to drag across, as
Beat Blender's puck.

The page gets the groove the listener chose as the state value "chosen" (an index), sent once a choice or a drag
settles; `chosen_index` checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from explorer.app.components import web_audio_js
from explorer.notes.drums import OUTPUT_PITCHES
from explorer.notes.groove import Groove, note_positions

FOLDER = Path(__file__).parent
LAYOUTS = ("row", "pad")


def groove_notes_by_step(groove: Groove, bpm: float) -> dict:
    """A groove as the player reads it: {bpm, steps, notes: [[step, shift in steps, drum, velocity]]}, each note on
    the 16th it belongs to, its micro-timing as the shift (negative: early)."""
    notes = []
    for position, drum, velocity in note_positions(groove):
        step = min(int(np.floor(position + 0.5)), groove.steps - 1)
        notes.append([step, round(position - step, 4), drum, velocity])
    return {"bpm": float(bpm), "steps": int(groove.steps), "notes": notes}


def chosen_index(value: object, count: int) -> int | None:
    """The listener's choice, if it is one of `count` grooves; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < count:
        return value
    return None


def live_player(key: str, items: Sequence[tuple[str, Groove, float]], samples: dict[str, str], layout: str = "row",
                columns: int = 0, chosen: int = 0, badges: Sequence[str] = ()) -> int | None:
    """Mounts the player over (label, groove, bpm) items: a row of buttons, or a pad of `columns` per row whose cells
    show `badges`. Returns the listener's chosen index (None before the first choice)."""
    import streamlit as st

    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
    component = st.components.v2.component(
        "groove_explorer_live_player",
        html='<div class="live-player"></div>',
        css=(FOLDER / "live_player.css").read_text(),
        js=web_audio_js() + (FOLDER / "live_player.js").read_text(),
    )
    grooves = [{"label": label, **groove_notes_by_step(groove, bpm)} for label, groove, bpm in items]
    data = {"grooves": grooves, "layout": layout, "columns": int(columns), "chosen": int(chosen),
            "badges": list(badges), "samples": samples, "pitches": list(OUTPUT_PITCHES)}
    result = component(key=key, data=data, on_chosen_change=lambda: None)
    value = result.get("chosen") if hasattr(result, "get") else getattr(result, "chosen", None)
    return chosen_index(value, len(items))
