"""Groove Explorer, the web app: `streamlit run streamlit_app.py` (or `make run`).

This file builds the sidebar every page shares (checkpoint, playback, seed basket, upload, About) and runs the
page chosen in the navigation; the pages are in app_pages/, the logic in explorer/.
"""

from __future__ import annotations

import streamlit as st

from explorer.app import resources, state, ui
from explorer.app.components.settled_slider import slider
from explorer.audio import fluidsynth, rendering
from explorer.datasets.gmd import GMD_CREDIT

st.set_page_config(page_title="Groove Explorer", page_icon="🥁", layout="wide")

# Widget values under "keep_" survive page switches (Streamlit forgets the values of widgets a page does not draw).
for _key in [k for k in st.session_state if str(k).startswith("keep_")]:
    st.session_state[_key] = st.session_state[_key]

PAGES = [
    st.Page("app_pages/dataset.py", title="Dataset", icon=":material/library_music:", default=True),
    st.Page("app_pages/latent_map.py", title="Latent map", icon=":material/scatter_plot:", url_path="latent-map"),
    st.Page("app_pages/generate.py", title="Generate", icon=":material/casino:", url_path="generate"),
    st.Page("app_pages/interpolate.py", title="Interpolate", icon=":material/swap_horiz:", url_path="interpolate"),
    st.Page("app_pages/blend.py", title="Blend", icon=":material/grid_view:", url_path="blend"),
    st.Page("app_pages/attributes.py", title="Attributes", icon=":material/tune:", url_path="attributes"),
    st.Page("app_pages/humanize.py", title="Humanize", icon=":material/graphic_eq:", url_path="humanize"),
    st.Page("app_pages/drumify.py", title="Drumify", icon=":material/touch_app:", url_path="drumify"),
    st.Page("app_pages/grid.py", title="Step grid", icon=":material/grid_on:", url_path="grid"),
    st.Page("app_pages/continuation.py", title="Continuation", icon=":material/queue_music:", url_path="continuation"),
    st.Page("app_pages/infill.py", title="Infill", icon=":material/add_circle:", url_path="infill"),
]
page = st.navigation(PAGES)
state.init_state()

with st.sidebar:
    st.markdown("### :material/graphic_eq: Groove Explorer")
    checkpoints = resources.checkpoint_infos()
    if checkpoints:
        names = [c.name for c in checkpoints]
        st.selectbox("Model checkpoint", names, key="keep_checkpoint",
                     format_func=lambda n: next(c.label for c in checkpoints if c.name == n),
                     help="Shipped and imported checkpoints under checkpoints/.")
        active = resources.active_checkpoint()
        st.caption(f"Active: **{active.name}** — {active.source or 'no source recorded'}")
    else:
        st.error("No model checkpoint found under checkpoints/.")

    st.markdown("**Playback**")
    st.toggle("Fixed tempo", key="keep_fixed_tempo", help="Off: every groove plays at its own tempo.")
    slider("Tempo (bpm)", ui.MIN_TEMPO, ui.MAX_TEMPO, ui.DEFAULT_TEMPO, key="keep_tempo",
           disabled=not st.session_state.get("keep_fixed_tempo"))
    st.toggle("Loop playback", key="keep_loop")
    sound = rendering.describe_renderer()
    st.selectbox("Kit", list(fluidsynth.KITS), key="keep_kit", format_func=lambda k: fluidsynth.KITS[k][0],
                 disabled=not sound.startswith("FluidSynth"),
                 help="The drum sounds of every player and WAV download (FluidSynth; the built-in synth has one).")
    st.caption(f"Sound: {sound}")

    seeds = state.basket()
    with st.expander(f"Seed basket ({len(seeds)})", expanded=True):
        if lost := st.session_state.get("seeds_not_restored"):
            st.info(f"{lost} seed{'s' if lost > 1 else ''} of your basket (uploads or results) could not be kept "
                    "across the reload: only the dataset's seeds live in the page's address.", icon=":material/info:")
        for index, seed in enumerate(seeds):
            name, remove = st.columns([5, 1], vertical_alignment="center")
            name.caption(f"{index + 1}. {seed.label}", help=ui.source_file(seed.groove))
            remove.button(":material/close:", key=f"remove_seed_{index}", help="Remove from the basket",
                          type="tertiary", on_click=state.remove_seed, args=(index,))  # tertiary: no padding
        if not seeds:
            st.caption(f"Empty. {ui.SEED_SOURCES}")
        clear, restore = st.columns(2)
        clear.button("Clear", key="basket_clear", on_click=seeds.clear, disabled=not seeds)
        restore.button("Defaults", key="basket_defaults", help="Four GMD beats of different genres",
                       on_click=lambda: st.session_state.update(basket=state.default_seeds()))
    with st.expander("Add your own MIDI"):
        ui.upload_seed()
    with st.expander("About"):
        st.markdown(
            f"Drum grooves from **{GMD_CREDIT}** "
            "([magenta.tensorflow.org/datasets/groove](https://magenta.tensorflow.org/datasets/groove), "
            "[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/)).\n\n"
            "The model is **GrooVAE** (Gillick et al., *Learning to Groove with Inverse Sequence Transformations*, "
            "ICML 2019), a **MusicVAE** (Roberts et al., ICML 2018) for drums, after Magenta's `groovae_4bar`; "
            "the blend grid follows Magenta's *Beat Blender*. Reimplemented in TensorFlow/Keras.")

if st.session_state.pop(state.GO_TO_GRID, False):  # a card's Grid button: its groove is on the grid now
    st.switch_page("app_pages/grid.py")
# The address is written before the page and again after it: a page that ends early (st.stop) would lose the change
# made in `finally` (the browser's address kept a reload's stale `unsaved` count), and the page itself may change the
# basket.
state.save_to_address()
try:
    page.run()
finally:  # after the first page is drawn, so that loading the model does not slow it down
    state.save_to_address()
    resources.warm_up_in_background(st.session_state.get("keep_checkpoint"))
