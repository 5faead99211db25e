"""Drumify: tap a rhythm (in the browser, as a MIDI file on any pitch, or a basket groove's), get a drummer on it."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.app import resources, state, ui
from explorer.app.components.settled_slider import select_slider, slider
from explorer.app.components.tap_pad import take_to_taps, tap_pad
from explorer.errors import ExplorerError
from explorer.tools import drumify, humanize

PAGE = "drumify"

st.title("Drumify")
st.caption("Tap a rhythm on anything (the pad below, a MIDI file of claps or piano keys, a groove of the basket) "
           "and a drummer plays it: a full groove whose hits land on your taps.")
model = ui.multitask_model("read taps")

source = st.radio("Rhythm", ["tap", "upload", "basket"], horizontal=True, key="keep_drumify_source",
                  format_func={"tap": "tap it here", "upload": "a MIDI file of taps",
                               "basket": "a basket groove's rhythm"}.get)
taps, name = None, ""
if source == "tap":
    tempo, length = st.columns(2)
    with tempo:
        bpm = slider("Tap tempo (bpm)", 50, 200, 100, key="keep_drumify_bpm")
    with length:
        bars = select_slider("Bars", [1, 2, 4, 8], value=2, key="keep_drumify_bars")
    take = tap_pad(key=f"drumify_pad_{bpm}_{bars}", bpm=bpm, bars=bars)
    if take is not None:
        try:
            taps, name = take_to_taps(take, "tapped"), "tapped"
        except ValueError as error:
            st.warning(str(error).capitalize() + ".")
elif source == "upload":
    uploaded = st.file_uploader("Your taps", type=["mid", "midi"], key="drumify_upload",
                                help="Any pitch, any channel, 4/4, one tempo, 1 to 16 bars; up to 2 MB. Every note "
                                     "is a tap. Not kept across a reload.")
    if uploaded is not None:
        try:
            taps, name = drumify.taps_from_midi(uploaded.getvalue(), uploaded.name), Path(uploaded.name).stem
        except ExplorerError as error:
            st.error(str(error))
            st.stop()  # the message is the page's answer: no hint under it
else:
    seed = ui.seed_picker("Rhythm of", key="keep_drumify_seed")
    if seed is not None:
        taps, name = drumify.taps_of(seed.groove), seed.label
if taps is None:
    state.clear_results(PAGE)
    st.info("Record a take on the pad, upload a MIDI file of taps, or pick a basket groove, to drumify it.")
    st.stop()

feel_column, weight_column = st.columns([3, 2])
feel_source = feel_column.radio("Feel", ["taps", "seed", "genre"], horizontal=True, key="keep_drumify_feel",
                                format_func={"taps": "the taps alone", "seed": "a seed's", "genre": "a genre's"}.get)
feel_z, feel_key, feel_name = None, "", "own"
if feel_source == "seed":
    with feel_column:
        feel_seed = ui.seed_picker("Feel of", key="keep_drumify_feel_seed")
    if feel_seed is not None:
        feel_z, feel_key = humanize.feel_code(model, [feel_seed.groove]), feel_seed.groove.content_key()
        feel_name = "seed feel"
elif feel_source == "genre":
    genres = sorted(resources.windows().meta["genre"].unique())
    genre = feel_column.selectbox("Genre", genres, index=genres.index("funk") if "funk" in genres else 0,
                                  key="keep_drumify_genre")
    feel_z, feel_key = resources.genre_feel(model.info.name, model.info.sha256, genre), genre
    feel_name = f"{genre} feel"
if feel_z is not None:
    with weight_column:
        slider("Blend: the taps' own ← → the feel's", 0.0, 1.0, 0.5, 0.05, key="keep_drumify_weight")

controls = st.columns(4)
with controls[0]:
    slider("Temperature", 0.0, 1.5, drumify.DEFAULT_TEMPERATURE, 0.05, key="keep_drumify_temperature",
           help="How freely the drums are drawn; 0 plays the most likely groove (the likeliest to sound "
                "real). Raise it for takes that differ.")
controls[1].number_input("Random seed", 0, 10**6, 0, key="keep_drumify_random_seed",
                         help="The same seed plays the same; it moves on by one after each run.")
with controls[2]:
    select_slider("Takes", [1, 2, 3, 4], value=2, key="keep_drumify_takes",
                  disabled=st.session_state["keep_drumify_temperature"] == 0,
                  help="Different takes need a temperature above 0 (at 0 every take is the same: one is made).")
controls[3].toggle("Strictly on my taps", value=True, key="keep_drumify_strict",
                   help="Off: the model may add ghost notes and cymbals between your taps.")


def run() -> None:
    session = st.session_state
    try:
        options = drumify.DrumifyOptions(
            temperature=session["keep_drumify_temperature"], seed=int(session["keep_drumify_random_seed"]),
            strict=session["keep_drumify_strict"], feel_weight=session.get("keep_drumify_weight", 0.5))
        takes = session["keep_drumify_takes"] if options.temperature > 0 else 1  # T = 0: every take the same
        played = drumify.drumify(model, taps, feel_z, options, takes=takes)
    except (ExplorerError, ValueError) as error:
        session[f"{PAGE}_error"] = str(error)
        return
    session.pop(f"{PAGE}_error", None)
    mode = "on the taps" if options.strict else "free"
    items = [(f"{name} · taps", taps)] + [
        (f"{name}_drumified_T{options.temperature:g}_seed{options.seed + k}_{feel_name} · {mode}", groove)
        for k, groove in enumerate(played)]
    state.set_results(PAGE, items, inputs=state.inputs_key(taps) + feel_key)
    session["keep_drumify_random_seed"] = (options.seed + 1) % (10**6 + 1)


state.drop_stale_results(PAGE, state.inputs_key(taps) + feel_key, "Drumify", "The rhythm or its feel")
items = ui.action_row(PAGE, "Drumify", run, "drumified", "Press **Drumify** to hear a drummer play your rhythm.")
ui.card_grid(PAGE, items)
