"""Driving the app through Streamlit's `AppTest`: open a page, set a settled slider, read its results and charts."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from explorer.files import PROJECT_DIR

APP = str(PROJECT_DIR / "streamlit_app.py")
PAGES = ("dataset", "latent_map", "generate", "interpolate", "blend", "attributes", "humanize", "drumify",
         "grid", "continuation", "infill")
TIMEOUT = 240  # the first run imports TensorFlow and loads the model; the first map encodes ~1,150 windows


def open_app(page: str = "dataset") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page != "dataset":
        at.switch_page(f"app_pages/{page}.py").run()
    assert_ok(at)
    return at


OVERVIEW_TITLE = "The whole performance: click a hit to take the 4 bars from its bar"


def overview_figure(at: AppTest) -> dict:
    """The Dataset page's plotly drum roll of the whole picked performance, as its figure spec."""
    [overview] = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if OVERVIEW_TITLE in c.proto.spec]
    return overview


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def slider_shown(at: AppTest, key: str) -> dict:
    """What the page gave the settled slider kept under `key`: its label, its choices' labels and its position."""
    found = [node for node in at.get("bidi_component") if node.proto.id.endswith(f"-slider_{key}")]
    assert len(found) == 1, f"one slider for {key}, not {len(found)}"
    return json.loads(found[0].proto.json)


def set_state(at: AppTest, key: str, value) -> AppTest:
    """A settled slider's move, as the browser's message leaves it: the value under its key, then a rerun."""
    at.session_state[key] = value
    return at.run()


def assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def results(at: AppTest, page: str) -> list:
    return at.session_state["results"].get(page, [])


def media(at: AppTest, kind: str) -> list:
    return [e for e in at.get(kind)]
