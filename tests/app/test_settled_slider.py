"""The settled slider's Python side (explorer/app/components/settled_slider): its choices and labels, what it takes
from the browser and what it refuses, and the page's value kept under its key (AppTest; the browser's side, one
rerun for a 40-step key move, is in test_browser.py)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from explorer.app.components.settled_slider import (
    checked_position,
    nearest_position,
    number_choices,
    number_label,
    settled_value,
)


@pytest.mark.parametrize(("bounds", "first", "last", "count"), [
    ((0.0, 1.5, 0.05), 0.0, 1.5, 31),
    ((-2.0, 2.0, 0.1), -2.0, 2.0, 41),
    ((3, 16, 1), 3, 16, 14),
    ((0.0, 405.0, 5.0), 0.0, 405.0, 82),
    ((50, 240, 1), 50, 240, 191),
])
def test_number_choices_run_from_min_to_max_by_the_step(bounds, first, last, count):
    choices = number_choices(*bounds)
    assert (choices[0], choices[-1], len(choices)) == (first, last, count)
    assert all(type(c) is type(bounds[0]) for c in choices)  # ints stay ints, floats floats
    assert 0.7 in number_choices(0.0, 1.5, 0.05)  # rounded: 14 × 0.05 is 0.7, not 0.7000000000000001


@pytest.mark.parametrize("bounds", [(1.0, 1.0, 0.1), (2, 1, 1), (0.0, 1.0, 0.0), (0.0, 1.0, -0.1), (0, 10**6, 1)])
def test_a_slider_without_range_or_with_too_many_positions_is_refused(bounds):
    with pytest.raises(ValueError):
        number_choices(*bounds)


def test_labels_carry_the_steps_decimals():
    assert [number_label(v, 0.05) for v in (0.0, 0.5, 1.25)] == ["0.00", "0.50", "1.25"]
    assert [number_label(v, 0.1) for v in (-2.0, 0.3)] == ["-2.0", "0.3"]
    assert number_label(10.0, 5.0) == "10" and number_label(120, 1) == "120"


def test_a_value_from_elsewhere_finds_its_nearest_choice():
    choices = number_choices(0.0, 1.5, 0.05)
    assert choices[nearest_position(choices, 0.72)] == 0.7
    assert choices[nearest_position(choices, 9.0)] == 1.5
    assert nearest_position([2, 4, 8, 16], 8) == 2
    assert nearest_position(["a", "b"], "z") == 0  # an option no longer offered: the first


@pytest.mark.parametrize(("sent", "is_range", "expected"), [
    (0, False, 0), (30, False, 1.5), (14, False, 0.7), ([2, 10], True, (0.1, 0.5)), ([5, 5], True, (0.25, 0.25)),
])
def test_a_position_from_the_browser_becomes_its_choice(sent, is_range, expected):
    assert settled_value([sent, "a1b2-3"], number_choices(0.0, 1.5, 0.05), is_range) == expected


@pytest.mark.parametrize("sent", [14, [14], [14, 3], [14, "x" * 65], [14, "m-1", "more"], {"at": 14, "move": "m-1"},
                                  None])
def test_a_move_without_its_id_is_refused_in_words(sent):
    with pytest.raises(ValueError, match="a slider sends"):
        settled_value(sent, number_choices(0.0, 1.5, 0.05), False)


@pytest.mark.parametrize(("sent", "is_range", "words"), [
    (31, False, "0-30"), (-1, False, "0-30"), (1.5, False, "whole number"), (True, False, "whole number"),
    ("3", False, "whole number"), (None, False, "whole number"), ([1, 2], False, "whole number"),
    (3, True, "[low, high]"), ([1, 2, 3], True, "[low, high]"), ([9, 2], True, "above its high end"),
    ([0, 99], True, "0-30"),
])
def test_anything_else_from_the_browser_is_refused_in_words(sent, is_range, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        checked_position(sent, 31, is_range)


def sliders_page():
    import streamlit as st

    from explorer.app.components.settled_slider import select_slider, slider

    st.session_state["seen"] = (
        slider("Temperature", 0.0, 1.5, 0.5, 0.05, key="keep_t", help="How freely"),
        slider("Tempo", 60, 180, (90, 120), key="keep_range", disabled=True),
        select_slider("Fill every", [0, 2, 4, 8], value=4, key="keep_fill", format_func=lambda k: f"{k} bars"),
    )


def shown(at: AppTest) -> dict[str, dict]:
    return {node.proto.id.split("-slider_")[1]: json.loads(node.proto.json) for node in at.get("bidi_component")}


def test_the_page_value_lives_under_its_key_and_the_browser_is_shown_its_position():
    at = AppTest.from_function(sliders_page).run()
    assert not at.exception
    assert at.session_state["seen"] == (0.5, (90, 120), 4)
    data = shown(at)
    assert data["keep_t"] == {"label": "Temperature", "labels": [number_label(v, 0.05) for v in
                                                                  number_choices(0.0, 1.5, 0.05)],
                              "value": 10, "help": "How freely", "disabled": False, "taken": None}
    assert data["keep_range"]["value"] == [30, 60] and data["keep_range"]["disabled"] is True
    assert data["keep_fill"]["labels"] == ["0 bars", "2 bars", "4 bars", "8 bars"] and data["keep_fill"]["value"] == 2
    # what a settled move leaves (the value under the key), and a value set from elsewhere between the choices
    at.session_state["keep_t"] = 0.72
    at.session_state["keep_range"] = (130, 70)
    at.session_state["keep_fill"] = 8
    at.run()
    assert at.session_state["seen"] == (0.7, (70, 130), 8)
    data = shown(at)
    assert (data["keep_t"]["value"], data["keep_range"]["value"], data["keep_fill"]["value"]) == (14, [10, 70], 3)


def run_button_page():
    import streamlit as st

    from explorer.app.components.settled_slider import slider, take_moves

    def run():
        take_moves()
        st.session_state["ran_at"] = st.session_state["keep_t"]

    st.button("Go", key="go", on_click=run)
    slider("Temperature", 0.0, 1.5, 0.5, 0.05, key="keep_t")


def test_a_run_button_takes_a_slider_move_that_arrives_with_its_press():
    """A move and a press in one rerun: Streamlit may call the button's callback first, before the slider's own; the
    move is taken all the same (the slider's state set as the browser's message sets it, without its callback)."""
    at = AppTest.from_function(run_button_page).run()
    at.session_state["slider_keep_t"] = {"value": [14, "m-1"]}
    at.button(key="go").click().run()
    assert not at.exception
    assert at.session_state["ran_at"] == 0.7 and at.session_state["keep_t"] == 0.7


def reset_button_page():
    import streamlit as st

    from explorer.app.components.settled_slider import slider, take_moves

    def reset():
        take_moves()
        st.session_state["keep_t"] = 0.5

    st.button("Reset", key="reset", on_click=reset)
    slider("Temperature", 0.0, 1.5, 0.5, 0.05, key="keep_t")


def test_a_reset_pressed_with_a_move_wins_and_the_browser_is_told_so():
    """A move to 0.70 and a reset in one rerun: the reset's 0.50 stands, and the browser, whose last move was 0.70, is
    shown that Python has taken that move (so that it shows 0.50 rather than keep its own 0.70)."""
    at = AppTest.from_function(reset_button_page).run()
    at.session_state["slider_keep_t"] = {"value": [14, "m-1"]}
    at.button(key="reset").click().run()
    assert not at.exception and at.session_state["keep_t"] == 0.5
    assert shown(at)["keep_t"]["value"] == 10 and shown(at)["keep_t"]["taken"] == "m-1"
    # a malformed move (a stale or forged page): refused in words, and the next run draws the slider as it was
    at.session_state["slider_keep_t"] = {"value": [14]}
    at.button(key="reset").click().run()
    assert not at.exception and at.session_state["keep_t"] == 0.5 and shown(at)["keep_t"]["taken"] is None
    assert any("a slider sends" in w.value for w in at.warning)
    at.run()
    assert not at.exception
    # the same position again with the next press: a new move, taken (a move back to where the last one went is a
    # move too; the browser then shows the reset again)
    at.session_state["slider_keep_t"] = {"value": [14, "m-2"]}
    at.button(key="reset").click().run()
    assert at.session_state["keep_t"] == 0.5 and shown(at)["keep_t"]["taken"] == "m-2"
