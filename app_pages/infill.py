"""Infill: the model writes chosen drums of a beat anew, every other note as it was (explorer/tools/infill.py)."""

from __future__ import annotations

import streamlit as st

from explorer.app import state, ui
from explorer.app.components.settled_slider import select_slider, slider
from explorer.errors import ExplorerError
from explorer.notes.drums import DRUM_CLASSES
from explorer.tools import infill

PAGE = "infill"

st.title("Infill")
st.caption("Add or replace a drum: the model writes the drums you choose anew (hats on a kick-and-snare sketch, a "
           "livelier kick) and every other note stays exactly as it was, on its own pitch, timing and velocity.")
model = ui.multitask_model("write dropped drums")
beat, name = ui.beat_source(PAGE, "write drums into it")

drums_column, temperature_column, seed_column, takes_column = st.columns([3, 2, 1, 1])
drums = drums_column.multiselect("Drums to write", DRUM_CLASSES, default=["closed hi-hat"], key="keep_infill_drums",
                                 help="Written anew by the model: what the beat has of them now is replaced.")
with temperature_column:
    slider("Temperature", 0.0, 1.5, infill.InfillOptions.temperature, 0.05,
           key="keep_infill_temperature", help="How freely the drums are drawn; 0 plays the likeliest.")
seed_column.number_input("Random seed", 0, 10**6, 0, key="keep_infill_seed",
                         help="The same seed plays the same; it moves on by one after each run.")
with takes_column:
    select_slider("Takes", [1, 2, 3, 4], value=2, key="keep_infill_takes",
                  disabled=st.session_state["keep_infill_temperature"] == 0,
                  help="Different takes need a temperature above 0 (at 0 one is made).")


def run() -> None:
    session = st.session_state
    try:
        options = infill.InfillOptions(temperature=session["keep_infill_temperature"],
                                       seed=int(session["keep_infill_seed"]))
        takes = session["keep_infill_takes"] if options.temperature > 0 else 1
        written = infill.infill(model, beat, session["keep_infill_drums"], options, takes)
    except (ExplorerError, ValueError) as error:
        session[f"{PAGE}_error"] = str(error)
        return
    session.pop(f"{PAGE}_error", None)
    what = "_".join(d.replace(" ", "-") for d in session["keep_infill_drums"])
    items = [(f"{name} · as it was", beat)] + [
        (f"{name}_new_{what}_T{options.temperature:g}_seed{options.seed + k}", groove)
        for k, groove in enumerate(written)]
    state.set_results(PAGE, items, inputs=state.inputs_key(beat))
    session["keep_infill_seed"] = (options.seed + 1) % (10**6 + 1)


state.drop_stale_results(PAGE, state.inputs_key(beat), "Infill", "The beat")
items = ui.action_row(PAGE, "Infill", run, "infilled", "Choose the drums and press **Infill**.",
                      disabled=not st.session_state.get("keep_infill_drums"))
ui.card_grid(PAGE, items)
