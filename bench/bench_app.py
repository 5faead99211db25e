"""How fast the app answers, measured in Debian's headless Chromium against a fresh `streamlit run`.

    GROOVE_DIR=... python -m bench.bench_app [--repeats 5] [--cold-starts 3] [--write]

- cold start: from starting the server process to the Dataset page drawn in the browser (the GMD windows cache in
  data/cache/ already built, as after a first run; the browser is started beforehand), on `--cold-starts` fresh
  servers in turn: the median is reported with every value;
- first visit to a model page, straight after the first page: the app loads the model in the background once the
  first page is drawn (after a 4 s pause), so this waits for what is left of that;
- each main interaction with the app's defaults, from the click to the end of the script run it starts (timed in
  the page: Streamlit's end-of-run message arrived and the run shown as finished): Generate 4 samples, Interpolate
  8 steps, Blend 4×4. The first click of each is reported apart; the median is over the `--repeats` clicks after
  it. Generate draws new grooves on every click (the random seed moves on); Interpolate and Blend redo the same
  grooves, whose audio is then cached;
- on the Dataset page, GMD's longest takes (drummer5's 321-window bossa and drummer2's 636-window rock): picking one
  (its whole drum roll built, once), moving the 4-bar window slider to the end and back, and clicking the last and the
  first hit of the whole-performance roll, which moves the window there.
`--write` puts the results in the "App" section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from bench.report import machine, publish
from explorer.model.checkpoints import list_checkpoints
from tests.system.browser_helpers import (
    act_and_time,
    click_and_time,
    free_port,
    launch_chromium,
    new_page,
    open_page,
    start_server,
    stop_server,
    wait_healthy,
    wait_idle,
)

SECTION = "App"
TARGETS = {"cold start": 8.0, "interaction": 1.0}  # seconds, from the issue
INTERACTIONS = (("Generate", "Generate", "generate 4 samples"), ("Interpolate", "Interpolate", "interpolate 8 steps"),
                ("Blend", "Blend", "blend 4×4"))


LONG_TAKES = ("drummer5/session1/2_latin-brazilian-bossa_127_beat_4-4.mid", "drummer2/session1/1_rock_110_beat_4-4.mid")


# Where a hit of the roll is drawn, from plotly's own axes (a long take's WebGL points have no DOM element).
POINT_JS = """(plot, index) => {
    const trace = plot._fullData[0], x = plot._fullLayout.xaxis, y = plot._fullLayout.yaxis;
    const i = index < 0 ? trace.x.length + index : index;
    return {x: x._offset + x.l2p(trace.x[i]), y: y._offset + y.l2p(trace.y[i])};
}"""


def long_take(page, name: str, repeats: int) -> dict:
    """On the Dataset page: seconds to pick the performance, to move the window slider (End / Home, in turn) and to
    click its roll's last and first hits (in turn)."""
    page.locator("[data-testid='stMain'] [data-testid='stSelectbox']", has_text="Performance").get_by_role(
        "combobox").focus()  # by focus, not a click: a click can miss while the page above still grows
    pick = act_and_time(page, lambda: (page.keyboard.type(name), page.keyboard.press("Enter")))
    thumb = page.get_by_role("slider", name="4-bar window starting at bar")
    moves = []
    for key in ("End", "Home") * repeats:
        thumb.focus()
        moves.append(act_and_time(page, lambda key=key: page.keyboard.press(key)))
    overview = page.locator(".js-plotly-plot", has=page.locator(".gtitle", has_text="whole performance"))
    clicks = []
    for index in (-1, 0) * repeats:  # the last hit, then the first: each click moves the window
        overview.scroll_into_view_if_needed()
        box = overview.bounding_box()
        spot = overview.evaluate(POINT_JS, index)
        clicks.append(act_and_time(page, lambda spot=spot, box=box: page.mouse.click(box["x"] + spot["x"],
                                                                                     box["y"] + spot["y"])))
    return {"name": name, "pick": pick, "move": statistics.median(moves), "move_slowest": max(moves),
            "click": statistics.median(clicks), "click_slowest": max(clicks)}


def cold_start(browser) -> tuple:
    """A new server and a new page: (page, server, seconds to the server answering, seconds to the page drawn)."""
    page = new_page(browser, viewport={"width": 1440, "height": 1000})
    port = free_port()
    start = time.perf_counter()
    server = start_server(port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server)
        ready = time.perf_counter() - start
        page.goto(url)
        page.get_by_text("of 1,150 performances").wait_for(timeout=120_000)
        wait_idle(page)
    except BaseException:
        stop_server(server)
        raise
    return page, server, ready, time.perf_counter() - start


def measure(repeats: int, cold_starts: int) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict = {"interactions": [], "cold_starts": [], "server_ready": []}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for attempt in range(cold_starts):
                page, server, ready, cold = cold_start(browser)
                results["server_ready"].append(ready)
                results["cold_starts"].append(cold)
                if attempt < cold_starts - 1:
                    stop_server(server)
                    page.close()
            try:  # the interactions, on the last server
                for link, button, name in INTERACTIONS:
                    before = time.perf_counter()
                    open_page(page, link)
                    visit = time.perf_counter() - before
                    if "model_load" not in results:
                        results["model_load"] = visit
                    target = page.get_by_role("button", name=button, exact=True)
                    times = [click_and_time(page, target) for _ in range(repeats + 1)]
                    results["interactions"].append({"name": name, "first": times[0],
                                                    "median": statistics.median(times[1:]), "slowest": max(times[1:])})
                open_page(page, "Dataset")
                results["long_takes"] = [long_take(page, name, repeats) for name in LONG_TAKES]
            finally:
                stop_server(server)
        finally:
            browser.close()
    results["cold_start"] = statistics.median(results["cold_starts"])
    return results


def markdown(results: dict, repeats: int) -> list[str]:
    def verdict(seconds: float, target: float) -> str:
        return "yes" if seconds <= target else "**no**"

    checkpoint = list_checkpoints()[0]
    lines = [f"`python -m bench.bench_app --repeats {repeats}` on {machine()} (shared "
             f"with other jobs: load average {os.getloadavg()[0]:.1f} at the end of the run), Python "
             f"{platform.python_version()}; Debian's Chromium, headless, through Playwright. Times run from the "
             "click to the end of the script run it starts, measured in the page (Streamlit's end-of-run message "
             "arrived and the page showing the run as finished, whichever is later). Checkpoint: "
             f"{checkpoint.name} ({checkpoint.source or 'no source recorded'}).", "",
             "| what | seconds | target | met |", "|---|---|---|---|",
             f"| cold start: `streamlit run` → Dataset page drawn, median of {len(results['cold_starts'])} "
             f"({', '.join(f'{c:.1f}' for c in results['cold_starts'])}) | {results['cold_start']:.1f} | "
             f"≤ {TARGETS['cold start']:g} | {verdict(results['cold_start'], TARGETS['cold start'])} |",
             f"| (of which: server answering, median) | {statistics.median(results['server_ready']):.1f} | | |",
             "| first visit to a model page, straight after the first page (waits for the model that loads in the "
             f"background) | {results['model_load']:.1f} | | |"]
    for row in results["interactions"]:
        lines.append(f"| {row['name']}, first click (first run of its model calls and renders) | "
                     f"{row['first']:.2f} | | |")
        lines.append(f"| {row['name']}, median of {repeats} more (slowest {row['slowest']:.2f}) | "
                     f"{row['median']:.2f} | ≤ {TARGETS['interaction']:g} | "
                     f"{verdict(row['median'], TARGETS['interaction'])} |")
    for take in results.get("long_takes", []):
        short = take["name"].rsplit("/", 1)[1]
        lines.append(f"| Dataset, pick `{short}` (its whole roll built once) | {take['pick']:.2f} | | |")
        lines.append(f"| Dataset, `{short}`: move the window slider, median of {2 * repeats} (slowest "
                     f"{take['move_slowest']:.2f}) | {take['move']:.2f} | ≤ {TARGETS['interaction']:g} | "
                     f"{verdict(take['move'], TARGETS['interaction'])} |")
        lines.append(f"| Dataset, `{short}`: click a hit of the roll, median of {2 * repeats} (slowest "
                     f"{take['click_slowest']:.2f}) | {take['click']:.2f} | ≤ {TARGETS['interaction']:g} | "
                     f"{verdict(take['click'], TARGETS['interaction'])} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold-starts", type=int, default=3, help="fresh servers to time the first page on")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    lines = markdown(measure(args.repeats, args.cold_starts), args.repeats)
    publish(SECTION, lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
