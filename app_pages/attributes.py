"""Attributes: move a seed along directions of the latent space (denser, more syncopated, louder, …) and hear it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from explorer.analysis.attributes import COMPUTED_ATTRIBUTES, HITS_ONLY_ATTRIBUTES, groove_attributes
from explorer.app import map_selection, resources, state, ui
from explorer.app.components.settled_slider import slider, take_moves
from explorer.errors import ExplorerError
from explorer.tools import generate

PAGE = "attributes"
# Slider captions: (towards less, towards more) of each computed attribute.
DIRECTIONS = {
    "density": ("sparser", "denser"),
    "syncopation": ("on the beat", "more syncopated"),
    "loudness": ("softer", "louder"),
    "push": ("laid-back", "pushed"),
    "looseness": ("tighter", "looser"),
}
KEPT_HITS_HINT = 0.75  # a move that plays fewer than this share of the seed's hits points to Keep the pattern
LABEL_COLUMNS = {"genre": "Towards a genre", "beat_type": "Towards a beat or a fill", "drummer": "Towards a drummer"}

st.title("Attributes")
st.caption("Each slider moves the seed along a direction of the model's latent space: the difference between the "
           "average of dataset windows that have much of a quality and those that have little of it.")
model = resources.model()
seed = ui.seed_picker("Seed", key="keep_attr_seed")
if seed is None:
    st.stop()
checkpoint = resources.active_checkpoint()
rows = map_selection.map_subset(resources.windows().meta, "one")
vectors = resources.attribute_vectors(checkpoint.name, checkpoint.sha256, map_selection.rows_key(rows), rows)

keep_pattern = st.session_state.get("keep_attr_keep_pattern", False)  # the toggle below; read first, it disables
sliders, labels = st.columns([3, 2])
amounts: dict[str, float] = {}
with sliders:
    for name, (less, more) in DIRECTIONS.items():
        held = keep_pattern and name in HITS_ONLY_ATTRIBUTES
        amount = slider(f"{less.capitalize()} ← {name} → {more}", -2.0, 2.0, 0.0, 0.1, key=f"keep_attr_{name}",
                        help=f"{COMPUTED_ATTRIBUTES[name]}" + (": held by Keep the pattern" if held else ""),
                        disabled=held)
        amounts[name] = 0.0 if held else amount
with labels:
    for column, caption in LABEL_COLUMNS.items():
        values = sorted(k.split(":", 1)[1] for k in vectors if k.startswith(f"{column}:"))
        target = st.selectbox(caption, ["—", *values], key=f"keep_attr_{column}")
        if target != "—":
            amounts[f"{column}:{target}"] = slider(f"How far towards {target}", 0.0, 2.0, 1.0, 0.1,
                                                   key=f"keep_attr_{column}_amount")


def reset() -> None:
    take_moves()  # a slider move arriving with the press is taken now, so that the reset wins over it
    for name in DIRECTIONS:
        st.session_state[f"keep_attr_{name}"] = 0.0
    for column in LABEL_COLUMNS:
        st.session_state[f"keep_attr_{column}"] = "—"


buttons = st.columns([1, 3])
buttons[0].button("Reset sliders", key="attr_reset", on_click=reset)
keep_pattern = buttons[1].toggle("Keep the pattern", key="keep_attr_keep_pattern",
                                 help="The seed's hits stay as they are; only dynamics and timing move (density and "
                                 "syncopation, counted from the hits, are held).")
try:
    codes = generate.seed_codes(model, [seed.groove])[0]
    moved = generate.move(model, seed.groove, codes, vectors, amounts, keep_pattern)
except (ExplorerError, ValueError) as error:
    st.error(str(error))
    st.stop()
changes = ", ".join(f"{name} {amount:+.1f}" for name, amount in amounts.items() if amount) or "no move"
label = f"{seed.label} ({changes})"
state.set_results(PAGE, [(label, moved)], new_generation=False)

table = groove_attributes(np.stack([seed.groove.tensor(), moved.tensor()]))
moved_title = "the model's reconstruction (no move)" if changes == "no move" else f"moved: {changes}"
table.index = ["seed as played", moved_title]
st.dataframe(pd.DataFrame(table).T.style.format("{:.2f}"), key="attr_table")
measured = ", ".join(f"{name} {table[name].iloc[1]:.2f} (seed {table[name].iloc[0]:.2f})"
                     for name in DIRECTIONS if amounts.get(name))
original, result = st.columns(2)
with original:
    ui.groove_card(seed.groove, key=f"{PAGE}_seed", title=f"the seed as played: {seed.label}", basket_button=False)
with result:
    ui.groove_card(moved, key=f"{PAGE}_moved",
                   title=f"{seed.label}, {moved_title}" + (f" → {measured}" if measured else ""))
    st.caption(f"Against the seed as played, the model's version {ui.hits_kept(seed.groove, moved)}.")
    kept, total, _ = generate.kept_hits(seed.groove, moved)
    if not keep_pattern and kept < KEPT_HITS_HINT * total:
        st.caption("To move only the dynamics and timing, turn on **Keep the pattern**.")
ui.zip_button([(f"seed {seed.label}", seed.groove), (label, moved)], "attributes", key="attributes_zip")
