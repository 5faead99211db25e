"""A slider that reruns the page once a move settles (settled_slider.js): on the pointer's release, or a moment after
the last key press, where Streamlit's own slider reruns on every arrow-key step (40 steps, 40 reruns).

`slider` and `select_slider` stand in for Streamlit's: a number, a (low, high) range or one of a list of options,
kept in `st.session_state[key]` as a plain value (the pages and the address read and set it there; tests set it
there too). The browser works on positions over the choices' labels; what it sends is checked (`checked_position`:
a ValueError in words, the browser is not trusted) and turned back into a choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

FOLDER = Path(__file__).parent
MAX_CHOICES = 2001  # a slider with more positions than this is not a slider


def decimals(number: float) -> int:
    """How many decimals a step or bound is written with: 0.05 → 2, 5.0 → 0."""
    return len(f"{number:g}".partition(".")[2])


def number_choices(min_value: float, max_value: float, step: float) -> list:
    """min, min + step, … max: ints when all three are, else floats rounded to the decimals they are written with."""
    if not (step > 0 and max_value > min_value):
        raise ValueError(f"a slider needs min < max and a step > 0, not {min_value}, {max_value}, {step}")
    count = math.floor((max_value - min_value) / step + 1e-9) + 1
    if count > MAX_CHOICES:
        raise ValueError(f"a slider of {count} positions is too fine: at most {MAX_CHOICES}")
    if all(isinstance(v, int) for v in (min_value, max_value, step)):
        return list(range(min_value, min_value + count * step, step))
    places = max(decimals(step), decimals(min_value))
    return [round(float(min_value) + i * step, places) for i in range(count)]


def number_label(choice, step: float) -> str:
    """A number as the slider shows it: with its step's decimals (0.50, not 0.5, on a 0.05 slider)."""
    return f"{choice:.{decimals(step)}f}" if isinstance(choice, float) else str(choice)


def nearest_position(choices: Sequence, value) -> int:
    """The position of `value` among the choices: itself, or for numbers the nearest (a value from the address may
    fall between them)."""
    if value in choices:
        return list(choices).index(value)
    if isinstance(value, (int, float)) and all(isinstance(c, (int, float)) for c in choices):
        return min(range(len(choices)), key=lambda i: abs(choices[i] - value))
    return 0


def checked_position(sent: object, count: int, is_range: bool) -> int | tuple[int, int]:
    """What the browser sent, if it is a position (or [low, high] for a range) among `count` choices."""
    def position(p):
        if not (isinstance(p, int) and not isinstance(p, bool) and 0 <= p < count):
            raise ValueError(f"a slider position must be a whole number 0-{count - 1}, not {p!r}")
        return p

    if not is_range:
        return position(sent)
    if not (isinstance(sent, list) and len(sent) == 2):
        raise ValueError(f"a range slider sends [low, high], not {sent!r}")
    low, high = (position(p) for p in sent)
    if low > high:
        raise ValueError(f"a range's low end {low} lies above its high end {high}")
    return low, high


def checked_move(sent: object) -> object:
    """The position a move from the browser carries: it sends [position (or [low, high]), the move's id], the id new
    for every move, so that a move back to a position taken before is a move all the same. (A list: Streamlit takes
    a dict under "value" for the component's whole state and would call no `on_value_change`.)"""
    if not (isinstance(sent, list) and len(sent) == 2 and isinstance(sent[1], str) and len(sent[1]) <= 64):
        raise ValueError(f"a slider sends [position, move id], not {sent!r}")
    return sent[0]


def _move_id(sent: object) -> str | None:
    """The id of a move the browser sent, None for anything else (no move yet, a malformed one)."""
    try:
        checked_move(sent)
    except ValueError:
        return None
    return sent[1]


def settled_value(sent: object, choices: Sequence, is_range: bool):
    """The choice (or (low, high) choices) at the position of the browser's move, if it is one."""
    position = checked_position(checked_move(sent), len(choices), is_range)
    return tuple(choices[p] for p in position) if is_range else choices[position]


TAKEN = "settled_sliders"  # in session state: key → (choices, is_range, the browser's move last taken)


def _component_key(key: str) -> str:
    return f"slider_{key}"  # not "keep_…": the value is kept under `key`, the component is redrawn from it


def _take(key: str) -> None:
    """The slider's move into `st.session_state[key]`, if it sent one not yet taken."""
    import streamlit as st

    choices, is_range, taken = st.session_state[TAKEN][key]
    component_key = _component_key(key)
    sent = st.session_state[component_key].get("value") if component_key in st.session_state else None
    if sent is None or sent == taken:
        return
    st.session_state[TAKEN][key] = (choices, is_range, sent)
    try:
        st.session_state[key] = settled_value(sent, choices, is_range)
    except ValueError as error:
        st.session_state[f"slider_{key}_error"] = str(error)


def take_moves() -> None:
    """Every slider's move not yet taken. For a button's callback: when a slider's move and a button press arrive in
    one rerun, Streamlit may call the button's callback before the slider's, which would then read the old value."""
    import streamlit as st

    for key in list(st.session_state.get(TAKEN, {})):
        _take(key)


def _mount(label: str, choices: list, labels: list[str], default, key: str, help: str | None, disabled: bool):
    import streamlit as st

    is_range = isinstance(default, (tuple, list))
    if key not in st.session_state:
        st.session_state[key] = tuple(default) if is_range else default
    value = st.session_state[key]
    # a value set elsewhere (the address, another page's options) shows as, and becomes, its nearest choice
    position = sorted(nearest_position(choices, v) for v in value) if is_range else nearest_position(choices, value)
    value = st.session_state[key] = tuple(choices[p] for p in position) if is_range else choices[position]
    taken = st.session_state.setdefault(TAKEN, {})
    taken[key] = (choices, is_range, taken[key][2] if key in taken else None)
    component = st.components.v2.component(
        "groove_explorer_settled_slider",
        html='<div class="settled-slider"></div>',
        css=(FOLDER / "settled_slider.css").read_text(),
        js=(FOLDER / "settled_slider.js").read_text(),
    )
    # "taken": the id of the browser's last move this value has seen; a value that differs from the move's was set
    # here since (a reset pressed with the move), and the browser shows it
    data = {"label": label, "labels": labels, "value": position, "help": help or "", "disabled": bool(disabled),
            "taken": _move_id(taken[key][2])}
    component(key=_component_key(key), data=data, on_value_change=lambda: _take(key))
    error = st.session_state.pop(f"slider_{key}_error", None)
    if error:
        st.warning(f"{label}: {error}; the slider stays at {value}.")
    return st.session_state[key]


def slider(label: str, min_value: float, max_value: float, value, step: float = 1, *, key: str,
           help: str | None = None, disabled: bool = False):
    """Streamlit's `st.slider` for a number or a (low, high) range, rerunning once a move settles."""
    choices = number_choices(min_value, max_value, step)
    return _mount(label, choices, [number_label(c, step) for c in choices], value, key, help, disabled)


def select_slider(label: str, options: Sequence, value=None, *, key: str, help: str | None = None,
                  format_func: Callable = str, disabled: bool = False):
    """Streamlit's `st.select_slider` over `options` (one, or a (low, high) range), rerunning once a move settles."""
    choices = list(options)
    default = choices[0] if value is None else value
    return _mount(label, choices, [str(format_func(c)) for c in choices], default, key, help, disabled)
