"""Step grid: program a beat in the browser and hear it loop while you edit; send it to any page that takes a seed."""

from __future__ import annotations

import streamlit as st

from explorer.app import state, ui
from explorer.app.components import step_grid

PAGE = "grid"

st.title("Step grid")
st.caption("Make a beat: click a cell for a hit, Shift + click for an accent or a ghost note; arrow keys and Enter "
           "work too. Play loops it while you edit. Any groove card's **Grid** button opens that groove here.")
if problem := st.session_state.pop("grid_not_restored", None):
    st.info(f"The address held a beat that could not be read ({problem}); the grid starts empty.")

session = st.session_state
sent = step_grid.step_grid("step_grid", session[state.GRID_BEAT], session[state.GRID_REVISION], ui.kit_samples())
if sent is not None:
    state.take_grid_beat(sent)
beat = session[state.GRID_BEAT]
if not beat["hits"]:
    st.info("The grid is empty: add hits to hear the beat, download it, or send it to another page.")
    st.stop()

bars = beat["bars"]
seed = step_grid.beat_as_seed(beat, f"grid beat · {beat['bpm']:g} bpm · swing {beat['swing']:g}")
label = seed.source
sends = st.columns(3)
for column, (page, title, keys) in zip(sends, [
        ("app_pages/humanize.py", "Humanize", {"keep_humanize_source": "basket", "keep_humanize_beat": None}),
        ("app_pages/drumify.py", "Drumify", {"keep_drumify_source": "basket", "keep_drumify_seed": None}),
        ("app_pages/continuation.py", "Continuation",
         {"keep_continuation_source": "basket", "keep_continuation_beat": None})], strict=True):
    if column.button(f"To {title}", key=f"grid_to_{title.lower()}", icon=":material/arrow_forward:",
                     help=f"Put the beat (looped to 4 bars) in the basket and open {title} on it"):
        message = state.add_seed(state.basket(), state.Seed(label, seed))
        index = state.basket_index(seed)
        if index is None:  # the basket is full: say so, stay here
            st.warning(message)
        else:
            session.update({key: index if value is None else value for key, value in keys.items()})
            st.switch_page(page)
ui.groove_card(seed, key=f"{PAGE}_card", title=f"{label} · {bars} bar{'s' if bars > 1 else ''}, looped to 4")
