"""End to end in a real browser: the app served by `streamlit run` on a free local port, driven by Debian's headless
Chromium through Playwright. Every page opens in one session and ends with a player whose source is a WAV and a MIDI
download (after a click on Generate, Interpolate or Blend; on the map after a lasso); uploads refuse a broken file
with a message and take a real one. Screenshots of every page go to docs/screenshots/ (shown in the README)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STARTUP_SECONDS = 120
MODEL_SECONDS = 180  # the first model page imports TensorFlow and loads the checkpoint; the map encodes the dataset
# (navigation link, main button or None, screenshot name), in the order visited: the map comes last, to show what the
# other pages generated; it plays the points a lasso selects.
PAGES = [
    ("Dataset", None, "1-dataset"),
    ("Generate", "Generate", "3-generate"),
    ("Interpolate", "Interpolate", "4-interpolate"),
    ("Blend", "Blend", "5-blend"),
    ("Attributes", None, "6-attributes"),
    ("Latent map", None, "2-latent-map"),
]
MAP_PAGE = "Latent map"

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    """`streamlit run` as a user starts it, headless, XSRF protection on (the default)."""
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.port", str(port), "--server.address", "127.0.0.1"]
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_healthy(url: str, server: subprocess.Popen, seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}: {server.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"streamlit did not answer on {url} within {seconds} s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


SCRIPT_STATE = "document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"


def wait_idle(page, timeout_ms: float = MODEL_SECONDS * 1000) -> None:
    """Until no script run is going on (Streamlit marks its root element with the script's state)."""
    page.wait_for_function(f"() => {SCRIPT_STATE} === 'notRunning'", timeout=timeout_ms)


def click_and_time(page, locator, timeout_ms: float = MODEL_SECONDS * 1000) -> float:
    """Click and wait for the script run it starts to finish; seconds from the click to the finished run, timed
    in the page (a MutationObserver sees every change of the script state, however short the run)."""
    page.evaluate("""() => {
        const app = document.querySelector('[data-testid="stApp"]');
        if (window.__observer) window.__observer.disconnect();
        window.__states = [];
        window.__clicked = null;
        window.__observer = new MutationObserver(() =>
            window.__states.push([app.getAttribute('data-test-script-state'), performance.now()]));
        window.__observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
        document.addEventListener('click', () => { window.__clicked = performance.now(); },
                                  {capture: true, once: true});
    }""")
    locator.click()
    finished = """() => { const s = window.__states; const start = s.findIndex(x => x[0] === 'running');
        return start < 0 ? null : (s.slice(start).find(x => x[0] === 'notRunning') || [null, null])[1]; }"""
    page.wait_for_function(f"() => ({finished})() !== null", timeout=timeout_ms)
    return (page.evaluate(f"() => ({finished})()") - page.evaluate("() => window.__clicked")) / 1000


def audio_sources(page) -> list[str]:
    return page.eval_on_selector_all("audio", "elements => elements.map(e => e.getAttribute('src') || '')")


def open_page(page, name: str) -> None:
    """Switch page in the sidebar, as a user does (one session throughout), and wait for it to be drawn."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=name).click()
    page.get_by_role("heading", name=name).first.wait_for(timeout=MODEL_SECONDS * 1000)
    wait_idle(page)


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): `sudo apt-get install chromium`")
    if not os.environ.get("GROOVE_DIR"):
        pytest.skip("the Groove MIDI Dataset is missing: set GROOVE_DIR to the folder holding its info.csv")
    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        stop_server(server)


def upload_in_sidebar(page, path: Path) -> None:
    page.locator("[data-testid='stSidebar'] [data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
    wait_idle(page)


def lasso_middle_of_map(page) -> None:
    """Drag a lasso round the middle of the 2-D map, where the points are densest."""
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    dx, dy = box["width"] / 4, box["height"] / 4
    page.mouse.move(x - dx, y - dy)
    page.mouse.down()
    for corner_x, corner_y in ((x + dx, y - dy), (x + dx, y + dy), (x - dx, y + dy), (x - dx, y - dy)):
        page.mouse.move(corner_x, corner_y, steps=8)
    page.mouse.up()


def test_every_page_in_chromium_plays_and_offers_midi(app_url):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(app_url)  # one session for the whole visit: pages are switched in the sidebar, as a user does
            for name, button, shot in PAGES:
                open_page(page, name)
                if button:
                    before = audio_sources(page)
                    click_and_time(page, page.get_by_role("button", name=button, exact=True))
                    assert any(s not in before for s in audio_sources(page)), f"{name}: no new player"
                assert page.locator("[data-testid='stException']").count() == 0, name
                page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"))
                if name == MAP_PAGE:
                    legend = page.locator(".js-plotly-plot .legendtext")
                    for group in ("seeds", "generate", "blend", "interpolation"):  # the session's results, kept
                        assert legend.filter(has_text=group).count() == 1, group
                    lasso_middle_of_map(page)
                    page.get_by_text("selected").first.wait_for(timeout=MODEL_SECONDS * 1000)
                    wait_idle(page)
                sources = audio_sources(page)
                assert sources and all(s.startswith(f"{app_url}/media/") for s in sources), (name, sources)
                with urllib.request.urlopen(sources[0], timeout=30) as response:
                    assert response.read(4) == b"RIFF"  # the player's source is a real WAV file
                midi = page.locator("[data-testid='stDownloadButton']").filter(has_text="MIDI")
                assert midi.count() > 0, name
                assert page.locator("[data-testid='stException']").count() == 0, name
        finally:
            browser.close()


def test_uploads_in_chromium_refuse_a_bad_file_and_take_a_good_one(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"this is not MIDI at all")
    good = Path(os.environ["GROOVE_DIR"]) / "drummer3/session1/10_rock_105_beat_4-4.mid"
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(app_url)
            wait_idle(page)
            page.get_by_text("Add your own MIDI").click()
            upload_in_sidebar(page, broken)
            page.get_by_text("'broken.mid' is not a MIDI file").wait_for(timeout=30_000)
            assert page.locator("[data-testid='stException']").count() == 0
            upload_in_sidebar(page, good)
            page.get_by_role("button", name="Add to basket").click()
            wait_idle(page)
            page.get_by_text("Seed basket (5)").wait_for(timeout=30_000)
        finally:
            browser.close()
