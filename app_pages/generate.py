"""Generate: random samples, variations of a seed, or a seed's reconstruction beside its original."""

from __future__ import annotations

import streamlit as st

from explorer.app import resources, state, ui
from explorer.app.components.settled_slider import slider
from explorer.errors import ExplorerError
from explorer.tools import generate

PAGE = "generate"
MODES = {"samples": "Random samples", "variations": "Variations of a seed", "reconstruction": "Reconstruction"}
DEFAULT_TEMPERATURE = {"samples": 0.8, "variations": 0.5, "reconstruction": 0.0}

st.title("Generate")
st.caption("New grooves from the model: random samples from its latent space, variations around a seed, or a "
           "seed played back through the model.")
model = resources.model()
mode = st.radio("What to generate", list(MODES), format_func=MODES.get, horizontal=True, key="keep_gen_mode")
left, middle, right = st.columns(3)
seed_groove = None
if mode != "samples":
    with left:
        chosen = ui.seed_picker("Seed", key="keep_gen_seed_index")
    seed_groove = chosen.groove if chosen else None
if mode != "reconstruction":
    with middle:
        slider("How many", 1, 12, 4, key="keep_gen_count")
if mode == "samples":
    with left:
        slider("Tempo of the samples (bpm)", ui.MIN_TEMPO, ui.MAX_TEMPO, ui.DEFAULT_TEMPO, key="keep_gen_bpm")
    left.caption(ui.sampling_prior_note(model))
if mode == "variations":
    with middle:
        slider("Amount of variation", 0.0, 1.0, 0.3, 0.05, key="keep_gen_amount",
               help="0 = the seed as the model hears it, 1 = a random groove")
with right:
    slider("Temperature", 0.0, 1.5, DEFAULT_TEMPERATURE[mode], 0.05, key=f"keep_gen_temp_{mode}",
           help="How freely hits are drawn: 0 plays only the hits the model is sure of.")
right.number_input("Random seed", 0, 2**31 - 2, 0, key="keep_gen_random_seed",
                                 help="The same seed gives the same grooves; it moves on by one after each run.")


def run() -> None:
    """Button callback: generate, keep the results, move the random seed on so the next click sounds new.

    It reads the widgets from session state, which holds their values as of the click."""
    session = st.session_state
    mode, seed = session["keep_gen_mode"], int(session["keep_gen_random_seed"])
    temperature = session[f"keep_gen_temp_{mode}"]
    try:
        if mode == "samples":
            grooves = generate.sample(model, session["keep_gen_count"], temperature, seed, bpm=session["keep_gen_bpm"])
            items = [(f"sample {i + 1} · random seed {seed} · T {temperature:g} · {g.bpm:.0f} bpm", g)
                     for i, g in enumerate(grooves)]
        else:
            number = session["keep_gen_seed_index"] + 1
            chosen = state.basket()[number - 1]
            original = chosen.groove
            # each result names its seed: a basket number changes when a seed before it is removed
            if mode == "variations":
                amount = session["keep_gen_amount"]
                grooves = generate.variations(model, original, session["keep_gen_count"], amount, temperature, seed)
                items = [(f"variation {i + 1} of seed {number} ({chosen.label}) · amount {amount:g}", g)
                         for i, g in enumerate(grooves)]
            else:
                reconstruction = generate.reconstruct(model, [original], temperature, seed)[0]
                items = [(f"seed {number} as played ({chosen.label})", original),
                         (f"the model's reconstruction of seed {number} ({chosen.label})", reconstruction)]
    except (ExplorerError, ValueError, IndexError) as error:
        session["generate_error"] = str(error)
        return
    session.pop("generate_error", None)
    state.set_results(PAGE, items, inputs=None if mode == "samples" else state.inputs_key(original))
    session["keep_gen_random_seed"] = (seed + 1) % (2**31 - 1)


if seed_groove is not None:
    state.drop_stale_results(PAGE, state.inputs_key(seed_groove), "Generate", "The seed")
items = ui.action_row(PAGE, "Generate", run, "generated",
                      "Press **Generate**. Every result has a drum roll, a player and a MIDI download; **Basket** "
                      "keeps it as a seed for Interpolate, Blend and Attributes.",
                      disabled=mode != "samples" and seed_groove is None)
ui.live_row(PAGE, items)
ui.card_grid(PAGE, items)
