"""Interpolate: a path through latent space from one seed to another, played as one track and step by step."""

from __future__ import annotations

import streamlit as st

from explorer.app import resources, state, ui
from explorer.app.components.settled_slider import select_slider, slider
from explorer.errors import ExplorerError
from explorer.notes.join import chain
from explorer.tools import generate

PAGE = "interpolate"

st.title("Interpolate")
st.caption("Morph one groove into another: the model decodes evenly spaced points on the way between the two "
           "seeds' places in its latent space.")
model = resources.model()
if len(state.basket()) < 2:
    st.info(f"Interpolation needs two seeds in the basket. {ui.SEED_SOURCES}")
    st.stop()
left, right = st.columns(2)
with left:
    start = ui.seed_picker("From", key="keep_interp_a", default=0)
with right:
    end = ui.seed_picker("To", key="keep_interp_b", default=1)
steps_column, method_column, temperature_column = st.columns(3)
with steps_column:
    slider("Steps (both ends included)", 3, 16, 8, key="keep_interp_steps")
method_column.radio("Path", ["slerp", "lerp"], horizontal=True, key="keep_interp_method",
                    help="slerp (Magenta's choice) follows the sphere where most of the latent space lies; lerp "
                         "goes straight, through the quieter middle.")
with temperature_column:
    slider("Temperature", 0.0, 1.5, 0.0, 0.05, key="keep_interp_temperature",
           help="0 plays only the hits the model is sure of: the smoothest morph.")


def run() -> None:
    session = st.session_state
    seeds = state.basket()
    try:
        a, b = seeds[session["keep_interp_a"]].groove, seeds[session["keep_interp_b"]].groove
        grooves = generate.interpolate(model, a, b, session["keep_interp_steps"], session["keep_interp_method"],
                                       session["keep_interp_temperature"])
    except (ExplorerError, ValueError, IndexError) as error:
        session["interpolate_error"] = str(error)
        return
    session.pop("interpolate_error", None)
    count = len(grooves)
    state.set_results(PAGE, [(f"step {i + 1} of {count} · {g.bpm:.0f} bpm", g) for i, g in enumerate(grooves)],
                      inputs=state.inputs_key(a, b))
    session["interpolate_ends"] = (f"seed {session['keep_interp_a'] + 1}: {seeds[session['keep_interp_a']].label}",
                                 f"seed {session['keep_interp_b'] + 1}: {seeds[session['keep_interp_b']].label}")


state.drop_stale_results(PAGE, state.inputs_key(start.groove, end.groove), "Interpolate")
same_seed = st.session_state["keep_interp_a"] == st.session_state["keep_interp_b"]
if same_seed:
    st.warning("**From** and **To** are the same seed: a path needs two. Pick another seed for one of them.")
items = ui.action_row(PAGE, "Interpolate", run, "interpolation", "Press **Interpolate** to hear the path.",
                     disabled=same_seed)

generation = st.session_state.get(f"generation_{PAGE}", 0)
grooves = [g for _, g in items]
picked = ui.live_row(PAGE, items)
if picked is not None and picked != st.session_state.get("interp_live_applied"):  # the card follows the live choice
    st.session_state["interp_live_applied"] = picked
    st.session_state[f"interp_step_{generation}"] = picked + 1
st.subheader("The whole path")
if "interpolate_ends" in st.session_state:
    st.markdown("From **{}** to **{}**".format(*st.session_state["interpolate_ends"]))
st.caption("Each step plays at its own tempo, gliding from one seed's to the other's (unless **Fixed tempo** is on); "
           "the MIDI file holds the same tempo changes.")
deferred: list = []  # both drum rolls first, then the audio (the whole path takes longest to render)
path = st.session_state.get("interpolate_path")
if path is None or path[0] is not items:  # joining the seeds' files takes ~60 ms: once per set of results
    path = st.session_state["interpolate_path"] = (items, chain(grooves, f"interpolation in {len(grooves)} steps"))
ui.groove_card(path[1], key=f"{PAGE}_{generation}_all",
               basket_button=False, deferred_audio=deferred)
st.subheader("One step")
step = select_slider("Step", list(range(1, len(items) + 1)), key=f"interp_step_{generation}")
label, groove = items[step - 1]
ui.groove_card(groove, key=f"{PAGE}_{generation}_step", title=label, deferred_audio=deferred)
ui.fill_audio(deferred[::-1])  # the short step first
if st.toggle("Show the path on the latent map", key="keep_interp_map"):
    ui.path_on_map(grooves)
