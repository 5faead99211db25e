"""Latent map: every 4-bar window of the (filtered) dataset placed by the model, with seeds and results on top."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.projection import PROJECTIONS
from explorer.app import map_selection, naming, plots, resources, state, ui
from explorer.datasets import gmd
from explorer.errors import ExplorerError

COLOR_BY = {"genre": "genre", "drummer": "drummer", "bpm": "tempo (bpm)", "beat_type": "beat or fill"}
MAX_SELECTED = 12  # selected points listed below the map (the rest are counted)

st.title("Latent map")
st.caption("Each point is a 4-bar window of the dataset, placed by what the model hears in it. Close points "
           "sound alike. Click a point to hear it; the lasso in the chart's toolbar selects several.")
model = resources.model()
checkpoint = resources.active_checkpoint()
try:
    window_set = resources.windows()
except ExplorerError as error:
    st.error(str(error))
    st.stop()
meta = window_set.meta

first, second, third, fourth = st.columns(4)
scope = first.radio("Performances", ["filtered", "all"], key="keep_map_scope", horizontal=True,
                    format_func={"filtered": "filtered on Dataset", "all": "all"}.get)
subset = first.selectbox("Windows", list(map_selection.MAP_SUBSETS), key="keep_map_subset",
                         format_func=map_selection.MAP_SUBSETS.get)
method = second.radio("Projection", PROJECTIONS, key="keep_map_method", horizontal=True,
                      help="PCA is instant and exact for new points; t-SNE and UMAP show clusters better but "
                           "take seconds (UMAP's first use also compiles it).")
dims = second.radio("Dimensions", [2, 3], key="keep_map_dims", horizontal=True, format_func=lambda d: f"{d}-D")
color_by = third.selectbox("Colour by", list(COLOR_BY), key="keep_map_color", format_func=COLOR_BY.get)
show_seeds = fourth.toggle("Show seeds", True, key="keep_map_seeds")
show_results = fourth.toggle("Show generated grooves", True, key="keep_map_results")

files = None
if scope == "filtered":
    filters = st.session_state.get(state.STATE_KEYS["filters"])
    if filters:
        files = gmd.filter_info(resources.info(), **filters)["midi_filename"].tolist()
rows = map_selection.map_subset(meta, subset, files)
if len(rows) <= dims:
    st.info("Too few windows match the Dataset page's filters for a map. Widen the filters or choose **all**.")
    st.stop()
asked = len(rows)
rows = map_selection.capped_for_projection(rows, method)
if len(rows) < asked:
    st.caption(f"t-SNE maps {len(rows):,} of these {asked:,} windows, evenly spread: it needs about half a minute "
               "for that many on 2 cores, and minutes for all. PCA and UMAP map every one.")
key = map_selection.rows_key(rows)
mu = resources.latent_vectors(checkpoint.name, checkpoint.sha256, key, rows)
with st.spinner(f"Projecting {len(rows):,} windows with {method}"
                + (" (UMAP first finds each window's neighbours)…" if method == "UMAP" else "…")):
    fitted = resources.projection(checkpoint.name, checkpoint.sha256, key, method, dims, mu)
overlays = ui.map_overlays(model, fitted, show_seeds, show_results)
st.caption(f"{len(rows):,} windows · {checkpoint.name} · {method} {dims}-D")
figure = plots.latent_map(fitted.points, meta.iloc[rows].reset_index(drop=True), color_by, overlays)
if dims == 3:
    st.plotly_chart(figure, key=f"map3d_{key}_{method}")
    st.info("Drag to turn the 3-D map. To hear points, switch **Dimensions** to 2-D and click one.")
    st.stop()
event = st.plotly_chart(figure, key=f"map_{key}_{method}", on_select="rerun", selection_mode=("points", "box", "lasso"))
selection = map_selection.kept_selection(st.session_state.get("map_selection"),
                                         map_selection.selected_rows(event.selection.points), (key, method), color_by)
st.session_state["map_selection"] = selection
picked = selection["rows"]

if not picked:
    st.info("Click a point to hear it here, or choose the lasso in the chart's toolbar and draw around several.")
    st.stop()
chosen_rows = [int(rows[p]) for p in picked]
shown = map_selection.spread_selection(chosen_rows, meta, MAX_SELECTED)
st.markdown(f"**{len(chosen_rows)} selected**" + (f" — showing {len(shown)}, from as many performances as "
                                                    "possible across the selection" if len(shown) < len(chosen_rows)
                                                    else ""))
labels = naming.unique_labels([state.window_label(meta.iloc[r]) for r in shown])
st.button(f"Add {len(shown)} to the basket", icon=":material/add:", key="map_add_all",
          on_click=lambda: state.add_all_to_basket(list(zip(labels, state.windows_as_played(window_set, shown),
                                                            strict=True))))
row = st.selectbox("Listen to", shown, key="map_listen", format_func=lambda r: labels[shown.index(r)])
ui.groove_card(state.windows_as_played(window_set, [row])[0], key=f"map_{row}", title=labels[shown.index(row)])
