"""Driving the app in a real browser, shared by the browser tests and the benchmarks: `streamlit run` on a free local
port, Debian's headless Chromium through Playwright, and timing a script run in the page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # `playwright install` cannot download browsers here: Debian's is used
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STARTUP_SECONDS = 120
MODEL_SECONDS = 180  # the first model page imports TensorFlow and loads the checkpoint; the map encodes the dataset
SCRIPT_STATE = "document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, stderr=subprocess.PIPE) -> subprocess.Popen:
    """`streamlit run` as a user starts it, headless, XSRF protection on (the default). A long run should pass a
    file as `stderr`: a pipe nobody reads blocks the server once it is full."""
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.port", str(port), "--server.address", "127.0.0.1"]
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=stderr,
                            text=True)


def wait_healthy(url: str, server: subprocess.Popen, seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stderr.read()[-2000:] if server.stderr else "(see its log)"
            raise RuntimeError(f"streamlit exited with {server.returncode}: {output}")
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


@contextmanager
def running_app(stderr=subprocess.PIPE) -> Iterator[str]:
    """The app served on a free port for the duration of the block; yields its URL."""
    port = free_port()
    server = start_server(port, stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        stop_server(server)


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def wait_idle(page, timeout_ms: float = MODEL_SECONDS * 1000) -> None:
    """Until no script run is going on (Streamlit marks its root element with the script's state)."""
    page.wait_for_function(f"() => {SCRIPT_STATE} === 'notRunning'", timeout=timeout_ms)


def act_and_time(page, act: Callable[[], None], timeout_ms: float = MODEL_SECONDS * 1000) -> float:
    """Do `act` (a click, or keys ending with Enter) and wait for the script run it starts to finish; seconds from
    the click or key press to the finished run, timed in the page (a MutationObserver sees every change of the
    script state, however short the run)."""
    page.evaluate("""() => {
        const app = document.querySelector('[data-testid="stApp"]');
        if (window.__observer) window.__observer.disconnect();
        window.__states = [];
        window.__acted = null;
        window.__observer = new MutationObserver(() =>
            window.__states.push([app.getAttribute('data-test-script-state'), performance.now()]));
        window.__observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
        const mark = () => { if (window.__acted === null) window.__acted = performance.now(); };
        document.addEventListener('click', mark, {capture: true, once: true});
        document.addEventListener('keydown', mark, {capture: true, once: true});
    }""")
    act()
    finished = """() => { const s = window.__states; const start = s.findIndex(x => x[0] === 'running');
        return start < 0 ? null : (s.slice(start).find(x => x[0] === 'notRunning') || [null, null])[1]; }"""
    page.wait_for_function(f"() => ({finished})() !== null", timeout=timeout_ms)
    return (page.evaluate(f"() => ({finished})()") - page.evaluate("() => window.__acted")) / 1000


def click_and_time(page, locator, timeout_ms: float = MODEL_SECONDS * 1000) -> float:
    """Click and wait for the script run it starts to finish; seconds from the click to the finished run."""
    return act_and_time(page, locator.click, timeout_ms)


def audio_sources(page) -> list[str]:
    return page.eval_on_selector_all("audio", "elements => elements.map(e => e.getAttribute('src') || '')")


def open_page(page, name: str) -> None:
    """Switch page in the sidebar, as a user does (one session throughout), and wait for it to be drawn."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=name).click()
    page.get_by_role("heading", name=name).first.wait_for(timeout=MODEL_SECONDS * 1000)
    wait_idle(page)
