"""Continuation: a groove goes on into a song, a bar at a time, with a fill every few bars
(explorer/tools/continuation.py)."""

from __future__ import annotations

import streamlit as st

from explorer.app import naming, plots, resources, state, ui
from explorer.app.components.settled_slider import select_slider, slider
from explorer.errors import ExplorerError
from explorer.notes.grid import WINDOW_BARS
from explorer.notes.midi_write import groove_to_midi
from explorer.tools import continuation

PAGE = "continuation"
LENGTHS = (8, 16, 32, 64)
MAX_PLAYED_BARS = 16  # the player renders at most this many bars at a time (a 64-bar song is minutes of audio)

st.title("Continuation")
st.caption("Continue a groove into a song: each new bar is played from the bars before it, so the drummer, tempo "
           "and feel stay, with a fill in the last bar of every few bars and a crash on the downbeat after it. "
           "The song starts with your groove's own notes.")
model = ui.multitask_model("go on from kept bars")
beat, name = ui.beat_source(PAGE, "continue it")
seed_bars = int(beat.bars)

lengths = [n for n in LENGTHS if n > seed_bars]
length_column, fill_column, source_column = st.columns(3)
with length_column:
    select_slider("Song length (bars)", lengths, value=lengths[min(1, len(lengths) - 1)],
                  key="keep_continuation_bars")
with fill_column:
    select_slider("A fill every", continuation.FILL_EVERY_CHOICES, value=4, key="keep_continuation_fill_every",
                  format_func=lambda k: f"{k} bars" if k else "no fills")
source_column.radio("Fills from", continuation.FILL_SOURCES, horizontal=True, key="keep_continuation_fill_source",
                    format_func={"drummers": "GMD's drummers", "model": "the model"}.get,
                    help="The model: drawn by the model, steered towards fills. GMD's drummers: the recorded fill "
                         "whose beat before it is most like your bars before it, as played.")
controls = st.columns(3)
with controls[0]:
    slider("Variation", 0.0, 1.0, continuation.ContinueOptions.variation, 0.05, key="keep_continuation_variation",
           help="0 loops your groove (fills only); 1 lets each bar follow from the bars before it alone.")
with controls[1]:
    slider("Temperature", 0.0, 1.5, continuation.ContinueOptions.temperature, 0.05,
           key="keep_continuation_temperature", help="How freely each bar is drawn; 0 plays the most likely.")
controls[2].number_input("Random seed", 0, 10**6, 0, key="keep_continuation_seed",
                         help="The same seed plays the same; it moves on by one after each run.")


def run() -> None:
    session = st.session_state
    try:
        options = continuation.ContinueOptions(
            temperature=session["keep_continuation_temperature"], seed=int(session["keep_continuation_seed"]),
            fill_every=session["keep_continuation_fill_every"], variation=session["keep_continuation_variation"],
            fill_source=session["keep_continuation_fill_source"])
        fills = resources.fill_bank() if options.fill_every else None
        song = continuation.continue_groove(model, beat, session["keep_continuation_bars"], options, fills)
    except (ExplorerError, ValueError) as error:
        session[f"{PAGE}_error"] = str(error)
        return
    session.pop(f"{PAGE}_error", None)
    label = f"{name}_continued_{int(song.bars)}bars_T{options.temperature:g}_seed{options.seed}"
    state.set_results(PAGE, [(label, song)], inputs=state.inputs_key(beat))
    session[f"{PAGE}_fill_every"] = options.fill_every  # the song's own, for its caption (the slider may move on)
    session["keep_continuation_seed"] = (options.seed + 1) % (10**6 + 1)


state.drop_stale_results(PAGE, state.inputs_key(beat), "Continue", "The groove")
items = ui.action_row(PAGE, "Continue", run, "continuation", "Press **Continue** to hear your groove go on.")
label, song = items[0]
if st.session_state.get(f"{PAGE}_fill_every") and resources.fill_bank() is None:
    st.info("The Groove MIDI Dataset is not here, so fill bars are played as any other bar; only the crash after "
            "them marks them.")
bars = int(song.bars)
bpm = ui.playback_bpm(song)
st.markdown(plots.drum_roll_svg(song, bpm, label, ui.source_file(beat) or ""), unsafe_allow_html=True)
fills = continuation.fill_bars(seed_bars, bars, st.session_state.get(f"{PAGE}_fill_every", 0))
where = ", ".join(str(b + 1) for b in fills)
st.caption(f"Bars 1–{seed_bars}: your groove as played. "
           + (f"Fill{'s' if len(fills) > 1 else ''} in bar{'s' if len(fills) > 1 else ''} {where}." if fills
              else "No fills."))
st.download_button(f"Song MIDI ({bars} bars)", groove_to_midi(song, None if bpm == song.bpm else bpm),
                   file_name=f"{naming.file_stem(label)}.mid", mime="audio/midi", key=f"{PAGE}_song_midi",
                   on_click="ignore", icon=":material/download:", help="The whole song, ending on its last bar")

generation = st.session_state.get(f"generation_{PAGE}", 0)
first, last = select_slider("Listen to bars", list(range(1, bars + 1)),
                            value=(1, min(bars, MAX_PLAYED_BARS)), key=f"{PAGE}_section_{generation}",
                            help=f"Loops with the sidebar's Loop playback; up to {MAX_PLAYED_BARS} bars at a time. "
                                 f"A {WINDOW_BARS}-bar section can go to the basket.")
last = min(last, first + MAX_PLAYED_BARS - 1)
section = song.window(first - 1, last - first + 1)
ui.groove_card(section, key=f"{PAGE}_{generation}_{first}_{last}", title=f"{label} · bars {first}–{last}",
               basket_button=last - first + 1 == WINDOW_BARS)
