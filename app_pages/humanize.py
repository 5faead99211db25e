"""Humanize: a programmed beat played with the model's dynamics and micro-timing, in any drummer's feel."""

from __future__ import annotations

import streamlit as st

from explorer.app import plots, resources, state, ui
from explorer.app.components.settled_slider import slider
from explorer.errors import ExplorerError
from explorer.notes.drums import DRUM_CLASSES
from explorer.tools import humanize

PAGE = "humanize"

st.title("Humanize")
st.caption("Turn a programmed beat into a performance: every note of it is played, on its own pitch, with a "
           "drummer's dynamics and micro-timing from the model. The feel comes from the beat itself, or from any "
           "seed in the basket: a jazz drummer's, say.")
model = resources.model()
checkpoint = resources.active_checkpoint()
if checkpoint.heads == "magenta":
    st.info(f"**{checkpoint.name}** has Magenta's heads: one fixed velocity and timing per hit, so the temperature "
            "changes nothing. A checkpoint with per-hit distributions plays a livelier groove.")

beat, beat_name = ui.beat_source(PAGE, "humanize it (drum-machine MIDI works best)")

feel_column, weight_column = st.columns([3, 2])
feel_source = feel_column.radio("Feel", ["own", "seed"], horizontal=True, key="keep_humanize_feel_source",
                                format_func={"own": "the beat's own", "seed": "a seed's"}.get)
feel = None
if feel_source == "seed":
    with feel_column:
        feel_seed = ui.seed_picker("Feel of", key="keep_humanize_feel", default=1)
    feel = feel_seed.groove if feel_seed else None
    with weight_column:
        slider("Blend: the beat's own ← → the seed's", 0.0, 1.0, 1.0, 0.05, key="keep_humanize_weight")
controls = st.columns(3)
with controls[0]:
    slider("Temperature", 0.0, 1.5, 0.5, 0.05, key="keep_humanize_temperature",
           help="How loosely timing and dynamics are drawn; 0 plays each hit's most likely feel.")
with controls[1]:
    slider("Humanize", 0.0, 1.0, 1.0, 0.05, key="keep_humanize_amount", help="0 leaves the beat as it is.")
controls[2].number_input("Random seed", 0, 10**6, 0, key="keep_humanize_seed",
                         help="The same seed plays the same; it moves on by one after each run.")
keep = st.columns(3)
keep[0].toggle("The drummer's levels", key="keep_humanize_drummer_levels",
               help="Off: each drum stays at the level you programmed it, with the drummer's accents and ghosts "
                    "around it. On: each drum at the level the drummer plays it (a kick softer than the snare).")
keep[1].toggle("Keep my velocities (timing only)", key="keep_humanize_keep_velocities")
keep[2].toggle("Keep my timing (dynamics only)", key="keep_humanize_keep_timing")
st.columns(2)[0].multiselect("Leave these drums as they are", DRUM_CLASSES, key="keep_humanize_untouched",
                    placeholder="none (e.g. a sampled kick)")


def run() -> None:
    session = st.session_state
    try:
        options = humanize.HumanizeOptions(
            temperature=session["keep_humanize_temperature"], seed=int(session["keep_humanize_seed"]),
            amount=session["keep_humanize_amount"], keep_velocities=session["keep_humanize_keep_velocities"],
            keep_timing=session["keep_humanize_keep_timing"], untouched=tuple(session["keep_humanize_untouched"]),
            drummer_levels=session["keep_humanize_drummer_levels"],
            feel_weight=session.get("keep_humanize_weight", 1.0) if feel is not None else 1.0)
        direction = resources.humanness_direction(checkpoint.name, checkpoint.sha256)
        if beat.notes is not None:  # a file: its own notes are played
            played, _ = humanize.humanize_record(model, beat.notes, feel, options, direction)
        else:
            played = humanize.humanize(model, beat, feel, options, direction)
    except (ExplorerError, ValueError) as error:
        session[f"{PAGE}_error"] = str(error)
        return
    session.pop(f"{PAGE}_error", None)
    feel_name = "own feel" if feel is None else "feel of a seed"
    state.set_results(PAGE, [(f"{beat_name} · as programmed", beat),
                             (f"{beat_name}_humanized_T{options.temperature:g}_seed{options.seed} · {feel_name}",
                              played)],
                      inputs=state.inputs_key(beat, feel))
    session["keep_humanize_seed"] = (options.seed + 1) % (10**6 + 1)


state.drop_stale_results(PAGE, state.inputs_key(beat, feel), "Humanize", "The beat or its feel")


items = ui.action_row(PAGE, "Humanize", run, "humanized", "Press **Humanize** to hear the beat played.")
generation = st.session_state.get(f"generation_{PAGE}", 0)
deferred: list = []
for column, (index, (label, groove)) in zip(st.columns(2), enumerate(items), strict=True):
    with column:
        ui.groove_card(groove, key=f"{PAGE}_{generation}_{index}", title=label, deferred_audio=deferred)
ui.fill_audio(deferred)
st.plotly_chart(plots.feel_chart(items, ui.playback_bpm(items[0][1])), key=f"{PAGE}_feel_{generation}")
