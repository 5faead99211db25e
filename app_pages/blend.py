"""Blend: four corner seeds and a grid of bilinear blends between them, as in Magenta's Beat Blender."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.app import resources, state, ui
from explorer.app.components.live_player import live_player
from explorer.app.components.settled_slider import slider
from explorer.errors import ExplorerError
from explorer.tools import generate

PAGE = "blend"
CORNERS = ("top left", "top right", "bottom left", "bottom right")

st.title("Blend")
st.caption("Put a seed in each corner; every cell of the grid mixes the four in proportion to how close it is to "
           "each corner. Play the grid live: drag across it as Beat Blender's puck.")
model = resources.model()
if len(state.basket()) < 2:
    st.info(f"Blending needs at least two seeds in the basket (four for four different corners). {ui.SEED_SOURCES}")
    st.stop()
corner_columns = st.columns(4)
picked = []
for number, (column, name) in enumerate(zip(corner_columns, CORNERS, strict=True)):
    with column:
        picked.append(ui.seed_picker(name.capitalize(), key=f"keep_blend_corner_{number}", default=number))
size_column, temperature_column = st.columns(2)
with size_column:
    slider("Grid size", 2, 6, 4, key="keep_blend_size", help="Cells per side.")
with temperature_column:
    slider("Temperature", 0.0, 1.5, 0.0, 0.05, key="keep_blend_temperature")


def run() -> None:
    session = st.session_state
    seeds = state.basket()
    size = session["keep_blend_size"]
    try:
        corners = [seeds[session[f"keep_blend_corner_{n}"]].groove for n in range(4)]
        grid = generate.blend(model, corners, size, size, session["keep_blend_temperature"])
    except (ExplorerError, ValueError, IndexError) as error:
        session["blend_error"] = str(error)
        return
    session.pop("blend_error", None)
    session["blend_size"] = size
    session["blend_cell"] = 0
    state.set_results(PAGE, [(f"blend row {r + 1} column {c + 1}", g) for r, row in enumerate(grid)
                             for c, g in enumerate(row)], inputs=state.inputs_key(*corners))


state.drop_stale_results(PAGE, state.inputs_key(*(seed.groove for seed in picked)), "Blend")
items = ui.action_row(PAGE, "Blend", run, "blend", "Press **Blend** to fill the grid.")

size = st.session_state["blend_size"]
generation = st.session_state.get(f"generation_{PAGE}", 0)
grid_column, card_column = st.columns([2, 3])
with grid_column:
    # Each cell shows its hits per bar, so the grid reads as a map of density before anything is played.
    densities = [float(np.sum(groove.hits)) / groove.bars for _, groove in items]
    picked = live_player(f"blend_player_{generation}", [(label, g, ui.playback_bpm(g)) for label, g in items],
                         ui.kit_samples(), layout="pad", columns=size,
                         chosen=st.session_state.get("blend_cell", 0), badges=[f"{d:.0f}" for d in densities])
    if picked is not None:
        st.session_state["blend_cell"] = picked
    st.caption("Press a cell to loop it; press another, or drag across the grid, and the blend under the pointer "
               "takes over on the next bar line. Numbers: hits per bar. Corners are the seeds as played.")
chosen = min(st.session_state.get("blend_cell", 0), len(items) - 1)
with card_column:
    label, groove = items[chosen]
    ui.groove_card(groove, key=f"{PAGE}_{generation}_cell", title=label)
