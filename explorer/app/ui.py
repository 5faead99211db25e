"""The Streamlit pages' widgets and the plain logic behind them: seed pickers, the groove card (drum roll + audio
+ MIDI), uploads, the ZIP export, the latent map's choices and overlays, and each page's action row.

The plain functions come first (tests call them directly); what the pages share is in explorer/app/resources.py, one
session's state in explorer/app/state.py.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from explorer import files
from explorer.analysis.projection import Projection
from explorer.app import plots, resources, share, state
from explorer.app.components.live_player import live_player
from explorer.app.components.settled_slider import take_moves
from explorer.app.map_selection import map_subset, rows_key
from explorer.app.naming import played_stem
from explorer.app.state import Seed
from explorer.audio import fluidsynth, rendering
from explorer.errors import ExplorerError, MidiError
from explorer.notes.grid import WINDOW_BARS
from explorer.notes.groove import Groove
from explorer.notes.midi_read import midi_to_performance
from explorer.notes.midi_write import groove_to_midi
from explorer.notes.record import NoteRecord
from explorer.tools.generate import encode, kept_hits

MIN_TEMPO, MAX_TEMPO, DEFAULT_TEMPO = 50, 240, 100


# Where seeds come from, said the same way on every page that needs them.
SEED_SOURCES = ("Add grooves with **+ Basket** on the **Dataset** page, the **Latent map** or any page's results, "
                "upload your own under **Add your own MIDI** in the sidebar, or press **Defaults** under the seed "
                "basket for four GMD beats.")


def upload_windows(data: bytes, name: str) -> list[Seed]:
    """The 4-bar windows of an uploaded MIDI file, each named 'stem · bpm · bars' (the model's view: see
    `upload_as_played`). A file shorter than 4 bars is repeated to fill them, and its name says so. Raises a MidiError
    a musician understands."""
    performance = midi_to_performance(data, name)
    found = performance.windows()
    if not found:
        raise MidiError(f"'{name}' has no 4-bar stretch with drum hits on the kit's General MIDI pitches.")
    stem, bars = Path(name).stem, performance.groove.bars
    seeds = []
    for groove in found:
        if bars < WINDOW_BARS:
            where = f"{state.short_loop(bars)}, repeated to fill 4 bars"
        else:
            start = groove.window_start_bar + 1
            where = f"bars {start}–{start + WINDOW_BARS - 1}"
        seeds.append(Seed(f"{stem} · {groove.bpm:.0f} bpm · {where}", groove))
    return seeds


def upload_as_played(seed: Seed, data: bytes, name: str) -> Seed:
    """One of `upload_windows`' seeds with the file's own notes of its bars behind it (explorer/notes/record.py): a
    side-stick stays a side-stick, a flam a flam, in the seed as played and in what is written back onto it. Made for
    the window chosen only (an excerpt of a long file takes ~0.2 s). A file shorter than the window (repeated to fill
    it) keeps the model's view alone."""
    record = NoteRecord.from_midi(data, name)
    if record.bars < WINDOW_BARS:
        return seed
    notes = record.excerpt(seed.groove.window_start_bar, WINDOW_BARS)
    return Seed(seed.label, dataclasses.replace(seed.groove, notes=notes))


MAX_BEAT_BARS = 16  # the Humanize page's uploads (the CLI humanizes any length)


def upload_beat(data: bytes, name: str) -> Groove:
    """An uploaded beat, whole, for the Humanize, Continuation and Infill pages: 1 to MAX_BEAT_BARS bars with drum hits,
    the model's view of the file, which it carries as its record (`Groove.notes`). Raises a MidiError a musician
    understands."""
    groove = NoteRecord.from_midi(data, name).groove()
    if groove.bars > MAX_BEAT_BARS:
        raise MidiError(f"'{name}' lasts {groove.bars:g} bars; the pages take up to {MAX_BEAT_BARS} (the CLI's "
                        "humanize, continue and infill take any length).")
    name = f"{Path(name).stem} · {groove.bpm:.0f} bpm · {state.short_loop(groove.bars)}"
    return dataclasses.replace(groove, source=name)


def grid_note(groove: Groove) -> str | None:
    """One sentence for a beat played on a triplet grid, which the model's 16ths only approximate."""
    if groove.notes is None or groove.notes.triplet_share() < TRIPLET_NOTE_SHARE:
        return None
    return ("This beat plays on a triplet grid (swung 8ths written as triplets): the model hears it on 16ths, so "
            "its swing is approximated. Keep your timing (dynamics only) to keep the triplets exactly.")


TRIPLET_NOTE_SHARE = 0.2  # of a beat's notes on triplet positions, off the 16ths


def source_file(groove: Groove) -> str | None:
    """'File drummer1/session1/…/x.mid, from bar 5' for a window of a GMD or uploaded .mid file, None for anything the
    model made: names stay readable, the file shows on hover."""
    file, bar = share.gmd_window(groove.source)
    return f"File {file}, from bar {bar}" if file else None


def sampling_prior_note(model) -> str:
    """Where the page's random samples come from, for a caption under its controls."""
    if model.prior is None:
        return "Codes drawn from N(0, I), the prior the model was trained towards (Magenta's way)."
    return (f"Codes drawn from where real grooves lie: a {model.prior.components}-Gaussian mixture fitted to the "
            "codes of the training windows.")


def hits_kept(seed: Groove, moved: Groove) -> str:
    """'keeps 48 of 54 hits, adds 3': how much of the seed's pattern a move kept."""
    kept, total, added = kept_hits(seed, moved)
    return f"keeps {kept} of {total} hits, adds {added}"


def export_zip(items: Sequence[tuple[str, Groove]], bpm: float | None = None, renderer: str = "auto",
               render: Callable[..., bytes] = rendering.render_wav, progress: Callable[[int, int], None] | None = None,
               ) -> bytes:
    """A ZIP with `<label>.mid` and `<label>.wav` for each (label, groove), at `bpm` (None: each groove's own);
    the WAVs render `fluidsynth.ENGINES` at a time, and `progress(done, total)` hears of each."""
    buffer = io.BytesIO()
    used: set[str] = set()
    renders = [resources.RENDERERS.submit(render, groove, bpm=bpm, renderer=renderer, kit=kit()) for _, groove in items]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, ((label, groove), wav) in enumerate(zip(items, renders, strict=True), 1):
            stem = played_stem(label, groove, bpm)
            if stem in used:
                stem = f"{stem}_{number}"
            used.add(stem)
            archive.writestr(f"{stem}.mid", groove_to_midi(groove, bpm))
            archive.writestr(f"{stem}.wav", wav.result())
            if progress:
                progress(number, len(items))
    return buffer.getvalue()


@st.cache_data(show_spinner=False, max_entries=32)
def _upload_windows(data: bytes, name: str) -> list[Seed]:
    return upload_windows(data, name)


@st.cache_data(show_spinner=False, max_entries=8)
def _upload_as_played(data: bytes, name: str, index: int) -> Seed:
    return upload_as_played(_upload_windows(data, name)[index], data, name)


@st.cache_data(show_spinner=False, max_entries=8)
def uploaded_beat(data: bytes, name: str) -> Groove:
    return upload_beat(data, name)


def multitask_model(trained_to: str):
    """The model of Drumify, Continue and Infill (resources.drumify_model), named under the page's title with what it
    was `trained_to` do; without one the page ends with its message."""
    model = resources.drumify_model()
    if model is None:
        st.stop()
    st.caption(f"Model: **{model.info.name}**, trained to {trained_to} (explorer/model/conditions.py).")
    return model


def beat_source(page: str, action: str) -> tuple[Groove | None, str]:
    """The beat a page works on and its name: a basket seed, or an uploaded MIDI file of 1 to MAX_BEAT_BARS bars
    (played whole; its notes kept as its record). A file the reader refuses gets its message, which ends the page.
    `action` says what the page does with it, for the empty state."""
    source = st.radio("Beat", ["basket", "upload"], horizontal=True, key=f"keep_{page}_source",
                      format_func={"basket": "a seed from the basket",
                                   "upload": f"a MIDI file, 1 to {MAX_BEAT_BARS} bars"}.get)
    beat, name = None, ""
    if source == "upload":
        uploaded = st.file_uploader("Your beat", type=["mid", "midi"], key=f"{page}_upload",
                                    help="Drums on channel 10, 4/4, one tempo; up to 2 MB. Played whole, 4 bars at a "
                                         "time; every note keeps its pitch, channel and track. Not kept across a "
                                         "reload.")
        if uploaded is not None:
            try:
                beat, name = uploaded_beat(uploaded.getvalue(), uploaded.name), Path(uploaded.name).stem
            except ExplorerError as error:
                st.error(str(error))
                st.stop()  # the message is the page's answer: no hint under it
    else:
        seed = seed_picker("Beat", key=f"keep_{page}_beat")
        beat, name = (seed.groove, seed.label) if seed else (None, "")
    if beat is None:
        state.clear_results(page)  # results never outlive their beat
        st.info(f"Choose a seed from the basket, or upload a beat, to {action}.")
        st.stop()
    if note := grid_note(beat):
        st.info(note)
    return beat, name


def kit() -> str:
    """The drum kit chosen in the sidebar (fluidsynth.KITS), for every player and WAV."""
    chosen = st.session_state.get("keep_kit", fluidsynth.DEFAULT_KIT)
    return chosen if chosen in fluidsynth.KITS else fluidsynth.DEFAULT_KIT


def kit_samples() -> dict[str, str]:
    """Drum row → the address of a WAV of one hit on the sidebar's kit: what the browser's players (step grid, live
    player) sound, the same as the rendered files. Static files (data/static/, served at app/static/), which a browser
    fetches once: as base64 in the players' data they were ~0.6 MB sent again with every new set of results."""
    name, shots = _one_shots(kit())
    folder = files.DATA_DIR / "static" / "kits" / name
    for row, wav in enumerate(shots):
        if not (folder / f"{row}.wav").is_file():  # again after data/ was cleaned under a running server
            folder.mkdir(parents=True, exist_ok=True)
            files.write_atomically(folder / f"{row}.wav", lambda out, wav=wav: out.write(wav))
    return {str(row): f"app/static/kits/{name}/{row}.wav" for row in range(len(shots))}


@functools.lru_cache(maxsize=len(fluidsynth.KITS))
def _one_shots(kit_name: str) -> tuple[str, tuple[bytes, ...]]:
    """A kit's one-shots, rendered once per process, and their folder's name: the kit and their content's digest (a
    new soundfont or synth gives new addresses, which no browser has kept)."""
    shots = rendering.one_shots(kit_name)
    return f"{kit_name}-{hashlib.sha256(b''.join(shots)).hexdigest()[:16]}", shots


def live_row(page: str, items: Sequence[tuple[str, Groove]], key: str = "player") -> int | None:
    """A page's results in the live player, a button each: one looping player that moves to the chosen result on
    the next bar line. Returns the listener's choice (None before the first)."""
    generation = st.session_state.get(f"generation_{page}", 0)
    st.caption("Live: press a groove to loop it; press another while it plays and it takes over on the next bar "
               "line.")
    return live_player(f"{page}_{key}_{generation}", [(label, groove, playback_bpm(groove)) for label, groove in items],
                       kit_samples())


def playback_bpm(groove: Groove) -> float:
    """The tempo to play and export at: the sidebar's fixed tempo, or the groove's own."""
    if st.session_state.get("keep_fixed_tempo"):
        return float(st.session_state.get("keep_tempo", DEFAULT_TEMPO))
    return groove.bpm


def seed_picker(label: str, key: str, default: int = 0) -> Seed | None:
    """A select box over the basket (None, with a hint, when the basket is empty)."""
    seeds = state.basket()
    if not seeds:
        st.info(f"The seed basket is empty. {SEED_SOURCES}")
        return None
    st.session_state.setdefault(state.SEED_PICKERS, set()).add(key)  # a seed's removal moves its index
    index = st.selectbox(label, range(len(seeds)), index=min(default, len(seeds) - 1), key=key,
                         format_func=lambda i: f"{i + 1}. {seeds[i].label}")
    return seeds[min(index, len(seeds) - 1)]


def groove_card(groove: Groove, key: str, title: str = "", basket_button: bool = True,
                deferred_audio: list | None = None) -> None:
    """Drum roll, audio player (looping when chosen in the sidebar) and MIDI download at the playback tempo.

    With `deferred_audio`, the player's place is kept and (slot, groove, bpm) appended to it, for `fill_audio`
    to render once every card is drawn: a page of results shows its drum rolls before the audio is ready.
    """
    bpm = playback_bpm(groove)
    title = title or groove.source
    st.markdown(plots.drum_roll_svg(groove, bpm, title, source_file(groove) or ""), unsafe_allow_html=True)
    slot = st.empty()  # the player on its own row: in half a page, beside the buttons, its seek bar was squashed
    download, add, spare, grid = st.columns([2, 3.2, 2.5, 2.3], vertical_alignment="center")
    if deferred_audio is None:
        fill_audio([(slot, groove, bpm)])
    else:
        deferred_audio.append((slot, groove, bpm))
    stem = played_stem(title, groove, bpm)
    as_played = groove.notes is not None  # the musician's file (at the playback tempo), the model's view beside it
    download.download_button("MIDI", groove_to_midi(groove, bpm), file_name=f"{stem}.mid",
                             mime="audio/midi", key=f"midi_{key}", on_click="ignore", icon=":material/download:",
                             help="Every note of the musician's file (its own pitches, flams and other tracks), "
                             "timed and played as this groove plays them" if as_played else None)
    if as_played:
        add.download_button("Model's view", groove_to_midi(groove.model_view(), bpm),
                            file_name=f"{stem}_model_view.mid", mime="audio/midi",
                            key=f"midi_view_{key}", on_click="ignore", icon=":material/download:",
                            help="The 9 drum classes the model reads, one hit per 16th and drum")
        add = spare
    if basket_button:
        add.button("Basket", icon=":material/add:", key=f"add_{key}", on_click=state.add_to_basket,
                   args=(title, groove), help="Keep this groove as a seed for the other pages")
    grid.button("Grid", icon=":material/grid_on:", key=f"grid_{key}", on_click=state.open_in_grid, args=(groove,),
                help="Open it on the step grid to edit (its first 4 bars, on the 16ths)")


def card_grid(page: str, items: Sequence[tuple[str, Groove]]) -> None:
    """A page's results as groove cards, two a row, their drum rolls first and then their players."""
    generation = st.session_state.get(f"generation_{page}", 0)
    deferred: list = []
    for start in range(0, len(items), 2):
        for column, (index, (label, groove)) in zip(st.columns(2), enumerate(items[start:start + 2], start),
                                                    strict=False):
            with column:
                groove_card(groove, key=f"{page}_{generation}_{index}", title=label, deferred_audio=deferred)
    fill_audio(deferred)


def fill_audio(deferred: Sequence[tuple]) -> None:
    """Render and show the players `groove_card` left places for, `fluidsynth.ENGINES` renders at a time."""
    loop = bool(st.session_state.get("keep_loop"))  # a looping player gets a file exactly its bars long
    renders = [resources.RENDERERS.submit(rendering.render_wav, groove, bpm=bpm, loop=loop, kit=kit())
               for _, groove, bpm in deferred]
    for (slot, _, _), render in zip(deferred, renders, strict=True):
        try:
            slot.audio(render.result(), format="audio/wav", loop=loop)
        except ExplorerError as error:
            slot.warning(str(error))


def zip_button(items: Sequence[tuple[str, Groove]], name: str, key: str) -> None:
    """Every result of a page as one ZIP of MIDI + WAV files: built when asked for, with a progress bar, then
    offered for download (until the results or the tempo change)."""
    if not items:
        return
    fixed = float(st.session_state["keep_tempo"]) if st.session_state.get("keep_fixed_tempo") else None
    signature = hashlib.sha1(repr([(label, groove.content_key()) for label, groove in items] + [fixed]).encode())
    built = st.session_state.get(f"zip_{key}")
    if not (built and built[0] == signature.hexdigest()):
        what = f"all {len(items)}" if len(items) > 1 else "it"
        if not st.button(f"Prepare {what} as ZIP (MIDI + WAV)", key=f"{key}_prepare",
                         icon=":material/folder_zip:"):
            return
        bar = st.progress(0.0, text=f"Rendering {len(items)} grooves…")
        data = export_zip(list(items), fixed, progress=lambda done, total: bar.progress(
            done / total, text=f"Rendered {done} of {total}…"))
        bar.empty()
        built = st.session_state[f"zip_{key}"] = (signature.hexdigest(), data)
    st.download_button(f"Download the ZIP ({len(items)} grooves, {len(built[1]) / 2**20:.1f} MB)", built[1],
                       file_name=f"{name}.zip", mime="application/zip", key=key, on_click="ignore",
                       icon=":material/download:")


def upload_seed() -> None:
    """Upload a MIDI file, preview a 4-bar window (drum roll and player), add it to the basket. A refused file's
    message shows once, where it was dropped, and the uploader is emptied for the next try."""
    session = st.session_state
    refused = session.pop("upload_refused", None)
    if refused:
        st.error(refused)
    uploaded = st.file_uploader("Your own MIDI file", type=["mid", "midi"], key=f"upload_{session.get('uploads', 0)}",
                                help="Drums on channel 10, 4/4, one tempo; up to 2 MB. Uploads are not kept across "
                                     "a reload of the page.")
    if uploaded is None:
        return
    try:
        found = _upload_windows(uploaded.getvalue(), uploaded.name)
    except ExplorerError as error:
        session["upload_refused"] = str(error)
        session["uploads"] = session.get("uploads", 0) + 1  # a new, empty uploader
        st.rerun()
    # keyed by the file: another file's windows are a new list (with one key the old file's label stayed shown)
    start = st.selectbox("Window", range(len(found)), key=f"upload_window_{uploaded.file_id}",
                         format_func=lambda i: found[i].label)
    index = min(start, len(found) - 1)
    try:
        choice = _upload_as_played(uploaded.getvalue(), uploaded.name, index)
    except ExplorerError as error:  # read above already: this is for a file the note reader alone refuses
        st.warning(f"Only the model's view of this file can be kept: {error}")
        choice = found[index]
    bpm = playback_bpm(choice.groove)
    st.markdown(plots.drum_roll_svg(choice.groove, bpm, choice.label), unsafe_allow_html=True)
    fill_audio([(st.empty(), choice.groove, bpm)])
    st.button("Add to basket", icon=":material/add:", key="upload_add", on_click=state.add_to_basket,
              args=(choice.label, choice.groove))


def map_overlays(model, projection: Projection, seeds: bool = True, generated: bool = True,
                 path: Sequence[Groove] = ()) -> pd.DataFrame:
    """Seeds, every page's results and an optional path, encoded by `model` and placed on `projection`."""
    groups: list[tuple[str, str, list[tuple[str, Groove]]]] = []  # (kind, group, items); seeds show their number
    if seeds and state.basket():
        groups.append(("seed", "seeds", [(s.label, s.groove) for s in state.basket()]))
    if generated:
        for page, items in st.session_state[state.STATE_KEYS["results"]].items():
            if items and page != "interpolate":
                groups.append(("generated", page, items))
        path_items = state.results("interpolate")
        if path_items and not path:
            groups.append(("path", "interpolation", path_items))
    if path:
        groups.append(("path", "interpolation", [(f"step {i + 1}", g) for i, g in enumerate(path)]))
    frames = []
    for kind, group, items in groups:
        grooves = [g for _, g in items if g.steps == model.config.steps]
        labels = [label for label, g in items if g.steps == model.config.steps]
        if grooves:
            _, mu, _ = encode(model, grooves)
            numbers = [str(i + 1) for i in range(len(labels))] if kind == "seed" else None
            frames.append(plots.overlay_frame(projection.place(mu), labels, kind, group, numbers))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def path_on_map(path: Sequence[Groove]) -> None:
    """The default map (one window per performance, PCA, by genre) with the basket's seeds and `path` drawn on it."""
    checkpoint = resources.active_checkpoint()
    rows = map_subset(resources.windows().meta, "one")
    key = rows_key(rows)
    mu = resources.latent_vectors(checkpoint.name, checkpoint.sha256, key, rows)
    projection_2d = resources.projection(checkpoint.name, checkpoint.sha256, key, "PCA", 2, mu)
    overlays = map_overlays(resources.model(), projection_2d, seeds=True, generated=False, path=path)
    meta = resources.windows().meta.iloc[rows].reset_index(drop=True)
    st.plotly_chart(plots.latent_map(projection_2d.points, meta, "genre", overlays, height=460), key="path_map")


def action_row(page: str, label: str, run: Callable[[], None], zip_name: str, empty_hint: str,
               disabled: bool = False) -> list[tuple[str, Groove]]:
    """The row under a generating page's controls (run, clear, download all), then its error or empty state.

    Returns the page's results; with none yet, shows `empty_hint` and ends the script run there.
    """
    buttons = st.columns([2, 2, 6])
    buttons[0].button(label, type="primary", key=f"{page}_run", on_click=lambda: (take_moves(), run()),
                      use_container_width=True, disabled=disabled)
    items = state.results(page)
    buttons[1].button("Clear results", key=f"{page}_clear", on_click=state.clear_results, args=(page,),
                      disabled=not items, use_container_width=True)
    if f"{page}_error" in st.session_state:
        st.error(st.session_state[f"{page}_error"])
    with buttons[2]:
        zip_button(items, zip_name, key=f"{page}_zip")
    if not items:
        st.info(empty_hint)
        st.stop()
    return items
