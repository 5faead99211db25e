"""Driving the app in a real browser, shared by the browser tests and the benchmarks: `streamlit run` on a free local
port, Debian's headless Chromium through Playwright, and timing a script run in the page."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from explorer.files import PROJECT_DIR

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
    command = [sys.executable, "-m", "streamlit", "run", str(PROJECT_DIR / "streamlit_app.py"),
               "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.port", str(port),
               "--server.address", "127.0.0.1"]
    return subprocess.Popen(command, cwd=PROJECT_DIR, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=stderr,
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


# Node's side of Playwright launches Chromium as a server that many Playwright clients share; Python's cannot.
_BROWSER_SERVER = """
const [playwright, options] = process.argv.slice(1);
require(playwright).chromium.launchServer(JSON.parse(options)).then(server => {
    console.log(server.wsEndpoint());
    process.stdin.on('end', () => server.close().then(() => process.exit(0)));
    process.stdin.resume();
});
"""


@contextmanager
def shared_chromium() -> Iterator[str]:
    """One headless Chromium for many users, each a context of its own: `playwright.chromium.connect(endpoint)` from
    any thread, then `new_context()`. Yields the endpoint. The browser and its renderers share one scheduling group
    at nice 19, so that the app's server runs first, as if its users had computers of their own (Chromium, run as
    root, re-nices its own processes; the group's priority it cannot change)."""
    import playwright

    driver = Path(playwright.__file__).parent / "driver"
    options = json.dumps({"executablePath": str(CHROMIUM), "args": CHROMIUM_ARGS})
    server = subprocess.Popen([str(driver / "node"), "-e", _BROWSER_SERVER, str(driver / "package"), options],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
                              env={**os.environ, "NODE_NO_WARNINGS": "1"})  # Playwright's own timer notices
    try:
        endpoint = server.stdout.readline().strip()
        if not endpoint.startswith("ws://"):
            raise RuntimeError(f"Playwright's browser server did not start (it said {endpoint!r})")
        for pid in [server.pid, *_descendants(server.pid)]:  # Chromium starts a session (a group) of its own
            with contextlib.suppress(OSError):  # no autogroups (or not Linux): the browser runs at normal priority
                Path(f"/proc/{pid}/autogroup").write_text("19")
        yield endpoint
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _descendants(pid: int) -> list[int]:
    """The processes started by `pid` and by them, from /proc (empty where there is none)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _run_tracker() -> str:
    """JavaScript for every page: it logs, on `window.__runs`, each script run's start and end as the messages arrive,
    and counts the bytes of every message received on `window.__bytesReceived`. Streamlit starts a run with a NewSession
    message and ends it with ScriptFinished (top-level fields of its ForwardMsg). The page's `data-test-script-state`
    alone is no clock: a short run, or one whose messages arrive together from a busy server, goes running → notRunning
    within one React render, the DOM never shows 'running', and a wait for it hangs; a wait for 'notRunning' right after
    a click can end before the run has begun."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    fields = ForwardMsg.DESCRIPTOR.fields_by_name
    tracker = """(START, FINISH, EARLY) => {
        // [event, time]: 'start', 'finish', 'rerun' (ended early for a rerun), 'drawn' (state shown as notRunning)
        const runs = window.__runs = [];
        window.__bytesReceived = 0;
        const varint = (bytes, at) => {
            let value = 0, scale = 1, byte;
            do { byte = bytes[at++]; value += (byte & 127) * scale; scale *= 128; } while (byte & 128);
            return [value, at];
        };
        const note = data => {  // walks the top-level fields of one ForwardMsg
            if (!(data instanceof ArrayBuffer)) return;
            const bytes = new Uint8Array(data);
            let at = 0, key, value;
            while (at < bytes.length) {
                [key, at] = varint(bytes, at);
                const field = Math.floor(key / 8), wire = key % 8;
                if (wire === 0 || wire === 2) [value, at] = varint(bytes, at);
                if (wire === 2) at += value; else if (wire === 1) at += 8; else if (wire === 5) at += 4;
                else if (wire !== 0) return;
                if (field === START) runs.push(['start', performance.now()]);
                if (field === FINISH) runs.push([value === EARLY ? 'rerun' : 'finish', performance.now()]);
            }
        };
        new MutationObserver(changes => {  // when React has drawn a run's end (it may lag behind the message)
            if (changes.some(change => change.target.getAttribute(change.attributeName) === 'notRunning'))
                runs.push(['drawn', performance.now()]);
        }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
        const Native = window.WebSocket;
        window.WebSocket = class extends Native {
            constructor(...args) {
                super(...args);
                this.addEventListener('message', event => {
                    window.__bytesReceived += event.data.byteLength || event.data.size || event.data.length || 0;
                    note(event.data);
                });
            }
        };
    }"""
    early = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_EARLY_FOR_RERUN")
    return f"({tracker})({fields['new_session'].number}, {fields['script_finished'].number}, {early});"


@contextmanager
def app_page(url: str, init_script: str = "") -> Iterator:
    """A fresh Chromium on the app at `url`, its first script run finished; closed afterwards. `init_script` runs in
    the page before the app's own (a fake Web MIDI port, say)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = new_page(browser, viewport={"width": 1440, "height": 1000})
            if init_script:
                page.add_init_script(init_script)
            page.goto(url)
            wait_idle(page)
            yield page
        finally:
            browser.close()


def new_page(browser, **options):
    """A page that logs its script runs, for `wait_idle` and `act_and_time`: of a Browser (in a context of its own,
    with `options`) or of a BrowserContext."""
    page = browser.new_page(**options)
    page.add_init_script(_run_tracker())
    return page


# When the last script run begun at or after log entry `since` finished and was drawn (null while it goes on). Drawn
# includes the elements whose code loads on first use (a page's first audio player, table, chart): Streamlit shows
# skeletons in their place until then.
_FINISHED = f"""since => {{
    const runs = (window.__runs || []).slice(since);
    const start = runs.map(run => run[0]).lastIndexOf('start');
    const after = start < 0 ? [] : runs.slice(start);
    const end = after.find(run => run[0] === 'finish');
    const loading = document.querySelector('[data-testid^="stSkeleton"], [data-testid="stAppSkeleton"]');
    if (!end || loading || {SCRIPT_STATE} !== 'notRunning') return null;
    return Math.max(end[1], ...after.filter(run => run[0] === 'drawn').map(run => run[1]));
}}"""


def _wait_finished(page, since: int, timeout_ms: float) -> float:
    """The finished time, as seen when the wait ended (a later run may have begun since)."""
    return page.wait_for_function(_FINISHED, arg=since, timeout=timeout_ms, polling=100).json_value()


def wait_idle(page, timeout_ms: float = MODEL_SECONDS * 1000) -> None:
    """Until the latest script run of a `new_page` has finished (after `goto`, the first one)."""
    _wait_finished(page, 0, timeout_ms)


def act_and_time(page, act: Callable[[], None], timeout_ms: float = MODEL_SECONDS * 1000) -> float:
    """Do `act` (a click, keys ending with Enter, a file chosen) on a `new_page` and wait for the script run it
    starts to finish; seconds from the click or key press (or from the call, for other acts) to the run's end."""
    since = page.evaluate("""() => {
        window.__acted = performance.now();
        const mark = () => { window.__acted = performance.now(); };
        document.addEventListener('click', mark, {capture: true, once: true});
        document.addEventListener('keydown', mark, {capture: true, once: true});
        return window.__runs.length;
    }""")
    act()
    finished = _wait_finished(page, since, timeout_ms)
    return (finished - page.evaluate("() => window.__acted")) / 1000


def click_and_time(page, locator, timeout_ms: float = MODEL_SECONDS * 1000) -> float:
    """Click and wait for the script run it starts to finish; seconds from the click to the finished run."""
    return act_and_time(page, locator.click, timeout_ms)


def audio_sources(page) -> list[str]:
    return page.eval_on_selector_all("audio", "elements => elements.map(e => e.getAttribute('src') || '')")


def open_page(page, name: str) -> None:
    """Switch page in the sidebar, as a user does (one session throughout), and wait for it to be drawn."""
    click_and_time(page, page.locator("[data-testid='stSidebarNav'] a", has_text=name))
    page.get_by_role("heading", name=name).first.wait_for(timeout=MODEL_SECONDS * 1000)


# --- the live player's audio, recorded in the page ---------------------------------------------------------------

# Before the app's code: the players record what they output (web_audio.js), and a fake Web MIDI port records what it
# is sent, with the timestamps it is sent for and the time of sending.
RECORDING_SCRIPT = """
window.__recordAudio = true;
window.__midiSent = [];
const port = {id: "fake-1", name: "Fake drum module",
              send: (data, at) => window.__midiSent.push([...data, at, performance.now()])};
navigator.requestMIDIAccess = async () => ({outputs: new Map([[port.id, port]]), onstatechange: null});
"""


def live_recording(page) -> dict:
    """What the page's live player scheduled (bar lines, switches, notes [time, drum, velocity, groove], and the
    times of the notes it could only schedule late, its main thread stalled) on the audio clock, the audio it output
    (`samples` from `first` s on the same clock: the recorder is given nothing while the player is silent) and the
    MIDI it sent."""
    import numpy as np

    played = page.evaluate("""() => { const s = window.__livePlayer, r = window.__recorded;
        return {bars: s.bars, switches: s.switches, log: s.log, late: s.late, bpm: s.grooves.map(g => g.bpm),
                rate: r.sampleRate, chunks: r.chunks, midi: window.__midiSent}; }""")
    rate, chunks = played["rate"], played.pop("chunks")
    first = chunks[0][0]
    samples = np.zeros(max(frame + len(chunk) for frame, chunk in chunks) - first, np.float32)
    for frame, chunk in chunks:
        samples[frame - first:frame - first + len(chunk)] = chunk
    return played | {"first": first / rate, "samples": samples}


def onset_errors(played: dict, start: float, stop: float) -> list[tuple[float, float]]:
    """(time, seconds from its nearest onset in the recorded audio) of each loud note scheduled from `start` to
    `stop` that is 60 ms from any other (closer notes merge into one onset), within the recording, and scheduled in
    time (not among `late`). The recording is on the audio clock the notes were scheduled on: no alignment to guess."""
    import numpy as np

    from tests.factories import detect_onsets

    log = sorted(played["log"])
    onsets = played["first"] + detect_onsets(played["samples"][:, None], played["rate"])
    end = played["first"] + len(played["samples"]) / played["rate"] - 0.05  # notes due after the stop are not in it
    times = [when for when, *_ in log]
    late = set(played["late"])

    return [(when, float(np.min(np.abs(onsets - when)))) for index, (when, _, velocity, _) in enumerate(log)
            if velocity >= 60 and min(abs(when - t) for j, t in enumerate(times) if j != index) > 0.06
            and start < when < min(stop, end) and when not in late]
