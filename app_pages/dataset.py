"""Dataset: filter GMD's performances, see their distributions, pick one, choose a 4-bar window, hear it, keep it."""

from __future__ import annotations

import streamlit as st

from explorer.app import map_selection, plots, resources, state, ui
from explorer.app.components.settled_slider import select_slider, slider
from explorer.datasets import gmd
from explorer.errors import ExplorerError

st.title("Dataset")
st.caption("The Groove MIDI Dataset: 1,150 performances by 10 drummers. Filter it, pick a performance, choose "
           "a 4-bar window, listen, and keep it in the seed basket.")
try:
    info = resources.info()
    window_set = resources.windows()
except ExplorerError as error:
    st.error(str(error))
    st.stop()

ranges = state.filter_ranges(info)
bpm_range, duration_range = ranges["keep_bpm"], ranges["keep_duration"]
with st.container(border=True):
    first, second, third = st.columns(3)
    genres = first.multiselect("Genre", sorted(info["genre"].unique()), key="keep_genres",
                               placeholder="All genres")
    drummers = first.multiselect("Drummer", list(gmd.summary(info)["drummers"]),
                                 key="keep_drummers", placeholder="All drummers")
    with second:
        bpm = slider("Tempo (bpm)", *bpm_range, value=bpm_range, key="keep_bpm")
        duration = slider("Duration (s)", *duration_range, value=duration_range, step=5.0, key="keep_duration")
    beat_types = third.multiselect("Beat or fill", ["beat", "fill"], key="keep_beat_types", placeholder="Both")
    splits = third.multiselect("Split", list(gmd.SPLITS), key="keep_splits", placeholder="All splits")
    meters = third.multiselect("Time signature", sorted(info["time_signature"].unique()), key="keep_meters",
                               placeholder="All meters")
    text = first.text_input("Style contains", key="keep_text", placeholder="e.g. samba, swing")

filters = {"genres": genres or None, "drummers": drummers or None, "bpm": bpm, "beat_types": beat_types or None,
           "time_signatures": meters or None, "splits": splits or None, "duration": duration, "text": text or None}
st.session_state[state.STATE_KEYS["filters"]] = filters  # the latent map can show the same set
table = gmd.filter_info(info, **filters)
counts = gmd.summary(table, window_set)
windows_found = sum(counts["windows_per_split"].values())
st.markdown(f"**{counts['rows']:,}** of {len(info):,} performances · **{counts['hours']:.2f} h** · "
            f"**{windows_found:,}** 4-bar windows in 4/4")

if table.empty:
    st.info("No performance matches these filters. Widen them (or clear a multi-select) to see some again.")
    st.stop()

# Only the open tab's chart is drawn: each plotly chart costs the browser time on every filter change.
genre_tab, bpm_tab, drummer_tab = st.tabs(["Genres", "Tempo", "Drummers"], key="keep_chart_tab", on_change="rerun")
if genre_tab.open:
    genre_tab.plotly_chart(plots.count_chart(table, "genre", "Performances per genre"), key="chart_genre")
if bpm_tab.open:
    bpm_tab.plotly_chart(plots.bpm_chart(table), key="chart_bpm")
if drummer_tab.open:
    drummer_tab.plotly_chart(plots.count_chart(table, "drummer", "Performances per drummer"), key="chart_drummer")

columns = ["drummer", "genre", "style", "bpm", "beat_type", "time_signature", "duration", "split", "midi_filename"]
shown = table[columns].reset_index(drop=True)
performances = shown["midi_filename"].tolist()
# drummers as numbers, so that the table sorts drummer2 before drummer10 (it sorts text letter by letter)
shown["drummer"] = shown["drummer"].str.removeprefix("drummer").astype(int)


def pick_from_table() -> None:
    rows = st.session_state["dataset_table"].selection.rows
    if rows:
        st.session_state["keep_performance"] = performances[rows[0]]


st.dataframe(shown, key="dataset_table", on_select=pick_from_table, selection_mode="single-row", height=260,
             hide_index=True, column_config={"duration": st.column_config.NumberColumn("duration (s)", format="%.0f"),
                                              "drummer": st.column_config.NumberColumn("drummer", format="drummer%d")})

st.subheader("Listen to a performance")
if st.session_state.get("keep_performance") not in performances:
    st.session_state["keep_performance"] = performances[0]
name = st.selectbox("Performance (or click a row above)", performances, key="keep_performance",
                    format_func=lambda n: f"{n}")
rows = window_set.meta.index[window_set.meta["midi_filename"] == name]
if len(rows) == 0:
    meter = str(table.loc[table["midi_filename"] == name, "time_signature"].iloc[0]).replace("-", "/")
    try:
        played, wav = resources.played_audio(name, ui.kit())
    except ExplorerError as error:
        st.warning(f"This performance cannot be played: {error}")
        st.stop()
    st.plotly_chart(plots.played_notes_roll(played), key=f"played_{name}")
    st.audio(wav, format="audio/wav", loop=bool(st.session_state.get("keep_loop")))
    st.info(f"A performance in {meter}: here to see and hear. The model reads 4/4 only, so it has no 4-bar windows "
            "to put in the seed basket.")
    st.stop()
starts = window_set.meta.loc[rows, "start_bar"].tolist()
start = select_slider("4-bar window starting at bar", [s + 1 for s in starts], key=f"window_{name}")
row = int(rows[starts.index(start - 1)])
# the window as the drummer played it, every note: the card's download (the model's view beside it)
groove = state.with_notes_as_played(window_set.grooves(row)[0], window_set.meta.iloc[row], on_error=lambda error: (
    st.warning(f"Only the model's view of these bars can be downloaded: {error}")))


def take_window_from_overview() -> None:
    bars = map_selection.selected_rows(st.session_state[f"overview_{name}"].selection.points)
    if bars:
        st.session_state[f"window_{name}"] = map_selection.window_start_at(starts, bars[0]) + 1


try:
    roll = resources.performance_roll_spec(name)
except ExplorerError as error:
    st.warning(f"The whole performance cannot be drawn: {error}")
else:
    st.plotly_chart(plots.with_window(roll, start - 1), key=f"overview_{name}",
                    on_select=take_window_from_overview, selection_mode="points")
ui.groove_card(groove, key=f"dataset_{row}", title=state.window_label(window_set.meta.iloc[row]))
