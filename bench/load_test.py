"""Many users at once: one `streamlit run`, N browser sessions side by side, each playing a seeded random script of
real interactions for a few minutes. Counts errors, times every interaction and checks that no session ever sees
another's seeds or results.

    [GROOVE_DIR=...] python -m bench.load_test [--sessions 20] [--minutes 3] [--seed 0] [--arrival-seconds 60]
        [--think-seconds 0.5 2] [--write]

Each session is a browser context (its own cookies, its own Streamlit session) with one page in one shared headless
Chromium, driven from a thread of its own (Playwright's sync API is one instance per thread, each connected to the
one browser that Playwright's browser server launched). After a warm-up visit (the model loads and the app's
background warm-up compiles its small-batch programs), every session pauses `--think-seconds` (default 0.5-2 s)
between interactions, drawn from its script:

- filter: type one of the session's own "Style contains" texts, Enter; the count of performances must be that
  text's, and the performance shown the one the session expects;
- add seed: the shown window's **Basket** button (**Defaults** first once the basket holds 12); the sidebar's basket
  must list exactly the session's seeds;
- generate: a random seed only this session uses, then **Generate**: four samples titled with that seed;
- interpolate: **From** one of the basket's seeds (the session's own when it has one), then **Interpolate**: the
  step's title names that seed's and the **To** seed's windows;
- download: a MIDI button of the page's results; the file must be MIDI, named after the session's result, and
  (checked after the run, on this process's copy of the model) hold exactly the groove the session asked for.

Latency is timed from the click (or Enter) to the checked result on screen. An error is a Streamlit exception box,
a result that does not appear, or a timeout; the session then reloads (a new Streamlit session) and goes on.
A session showing anything of another session's (one of its seeds, its random seeds) is an isolation failure.
`--write` puts the results in the "Many users at once" section of docs/RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.load_session import (
    PROGRESS_SECONDS,
    RUN_TIMEOUT_MS,
    SAMPLE_BPM,
    SAMPLES,
    TEMPERATURE,
    THINK_SECONDS,
    Catalog,
    Outcome,
    Session,
    build_catalog,
)
from bench.report import machine, publish
from explorer.datasets import gmd
from explorer.errors import DatasetError
from explorer.files import PROJECT_DIR
from explorer.notes.midi_write import groove_to_midi
from tests.system.browser_helpers import (
    click_and_time,
    launch_chromium,
    new_page,
    open_page,
    running_app,
    shared_chromium,
)

DOC = PROJECT_DIR / "docs" / "RELIABILITY.md"
SECTION = "Many users at once"
# --- many sessions ---------------------------------------------------------------------------------------------


def run_sessions(url: str, catalog: Catalog, sessions: int, seconds: float | None = None,
                 script: list[str] | None = None, seed: int = 0, arrival_seconds: float = 0.0,
                 think_seconds: tuple[float, float] = THINK_SECONDS) -> Outcome:
    """`sessions` users at once, each in a browser context of its own in one shared Chromium: each plays a random
    script for `seconds`, or the given `script`. The sessions arrive one by one over `arrival_seconds`; the clock
    starts when the last one has its page."""
    from playwright.sync_api import sync_playwright

    outcome = Outcome()
    deadline: list[float] = []
    # when every session has its page, the clock starts
    ready = threading.Barrier(sessions + 1, action=lambda: deadline.append(time.monotonic() + (seconds or 0)))

    def user(number: int) -> None:
        session = Session(number, url, catalog, outcome, seed, think_seconds)
        time.sleep(number * arrival_seconds / sessions)
        with sync_playwright() as playwright:
            browser = None
            try:
                browser = playwright.chromium.connect(chromium)
                session.start(browser.new_context(viewport={"width": 1280, "height": 900}))
            except Exception as error:  # counted; a session with a page goes on (its next error reloads it)
                session.fail(outcome.errors, "first visit", error)
            ready.wait()
            try:
                if session.page is not None:
                    session.run_script(script) if script else session.run(deadline[0])
            finally:
                if browser is not None:
                    browser.close()  # closes this session's context and lets go of the shared browser

    with shared_chromium() as chromium:
        threads = [threading.Thread(target=user, args=(n,), name=f"session {n}") for n in range(sessions)]
        for thread in threads:
            thread.start()
        ready.wait()
        started = time.monotonic()
        report = started + PROGRESS_SECONDS
        while any(thread.is_alive() for thread in threads):
            time.sleep(0.5)
            if time.monotonic() >= report:
                report += PROGRESS_SECONDS
                print(progress(outcome, time.monotonic() - started, sum(t.is_alive() for t in threads)), flush=True)
    return outcome


def progress(outcome: Outcome, elapsed: float, alive: int) -> str:
    with outcome.lock:
        all_seconds = [s for kind, v in outcome.latencies.items() if kind != "first visit" for s in v]
        errors, foreign = len(outcome.errors), len(outcome.foreign)
    p95 = f"{percentile(all_seconds, 95):.2f} s" if all_seconds else "-"
    return (f"[{elapsed:5.0f} s] {alive} sessions running · {len(all_seconds)} interactions · p95 {p95} · "
            f"{errors} errors · {foreign} isolation failures")


def warm_up(url: str) -> None:
    """One visit that loads the model and compiles its sampling loop for the Generate and Interpolate defaults."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = new_page(browser)
            page.goto(url)
            page.get_by_text("of 1,150 performances").wait_for(timeout=RUN_TIMEOUT_MS)
            for name in ("Generate", "Interpolate"):
                open_page(page, name)
                click_and_time(page, page.get_by_role("button", name=name, exact=True))
        finally:
            browser.close()


def verify_downloads(outcome: Outcome, catalog: Catalog) -> int:
    """Every downloaded MIDI file against the file the app promises for the groove the session asked for: a window
    or a path's first step (its From seed) as played (`Catalog.as_played`), a sample made on this process's model
    (deterministic for a seed: tests/system/test_concurrency.py). Mismatches are isolation failures."""
    from explorer.model.checkpoints import load_model
    from explorer.tools import generate

    for number, what, data in outcome.downloads:
        if what[0] == "sample":
            groove = generate.sample(load_model(), SAMPLES, TEMPERATURE, what[1], bpm=SAMPLE_BPM)[what[2]]
            expected = groove_to_midi(groove, groove.bpm)
        else:  # ("window", row) or ("step", from row, to row)
            expected = catalog.as_played(what[1])
        if data != expected:
            outcome.foreign.append(f"session {number}: the downloaded {what} is not the groove asked for")
    return len(outcome.downloads)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def server_problems(log: Path) -> list[str]:
    """Tracebacks the server logged (a script error the page might not show)."""
    text = log.read_text(errors="replace")
    return [line for line in text.splitlines() if line.startswith("Traceback")]


# --- report ----------------------------------------------------------------------------------------------------


def server_cpu_seconds() -> float:
    """CPU time used so far by the `streamlit run` this process started (user + system, from /proc)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"streamlit" in command:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(sessions: int, minutes: float, seed: int, arrival_seconds: float,
            think_seconds: tuple[float, float] = THINK_SECONDS) -> dict:
    catalog = build_catalog(sessions)
    log = Path(tempfile.mkstemp(prefix="load-test-server-", suffix=".log")[1])
    with log.open("w") as server_log, running_app(server_log) as url:
        print(f"server at {url} (log: {log}); warming up (model load, first compiles)…", flush=True)
        warm_up(url)
        print(f"{sessions} sessions for {minutes:g} min…", flush=True)
        # The clients run at the lowest priority: on one machine they would otherwise take the server's CPU, and
        # the figures would be theirs, not the server's. This process and the Playwright drivers it starts from here
        # on at nice 19; the browser in a scheduling group of its own at nice 19 (shared_chromium).
        os.nice(19)
        begin, cpu = time.monotonic(), server_cpu_seconds()
        outcome = run_sessions(url, catalog, sessions, seconds=minutes * 60, seed=seed,
                               arrival_seconds=arrival_seconds, think_seconds=think_seconds)
        wall, cpu = time.monotonic() - begin, server_cpu_seconds() - cpu
        load = os.getloadavg()
    print(f"checking {len(outcome.downloads)} downloaded MIDI files against this process's model…", flush=True)
    verified = verify_downloads(outcome, catalog)
    server_errors = server_problems(log)
    outcome.errors.extend(f"server: {line}" for line in server_errors)
    return {"sessions": sessions, "minutes": minutes, "seed": seed, "wall": wall, "load": load, "outcome": outcome,
            "verified": verified, "arrival": arrival_seconds, "server_cpu": cpu, "think": think_seconds}


def thread_lines() -> list[str]:
    """What tests/system/test_concurrency.py proves about the shared model and synth (the section's first paragraph)."""
    from tests.system.test_concurrency import ROUNDS, THREADS

    return [
        "**Shared model and synth, from threads** (`tests/system/test_concurrency.py`). Every session's script runs in "
        "a thread of the one server process and uses the same cached model and the same soundfont. The test hammers "
        f"them from {THREADS} threads that start together, each job {ROUNDS} times in a shuffled order: encoding "
        "(1 and 8 windows), decoding (T = 0 and seeded T > 0, 3 to 8 grooves), sampling, variations and "
        "interpolation on a fresh `CompiledModel` of the shipped checkpoint (so the first calls, which trace the "
        "graphs, race too); FluidSynth and built-in renders at several tempi, loop and channel counts, and the "
        "app's cached `render_wav` through a one-entry cache (always evicting). Every result is bit-identical to "
        "the one-thread result (the FluidSynth engine renders on up to two loaded copies of the soundfont, each one "
        "groove at a time; TensorFlow runs concurrent calls of a traced function safely).",
    ]


def subset_lines() -> list[str]:
    """Where the seeded subset of the load test lives in the test suite (the section's last paragraph)."""
    return [
        "**In the test suite:** `tests/system/test_concurrency.py::"
        "test_sessions_side_by_side_see_only_their_own_seeds_and_results` (marked `browser`) runs the same session "
        "code with 3 sessions at once on one fixed script (filter "
        "and add a seed, generate with the session's own random seed, download, interpolate from the added seed, "
        "download) and requires 0 errors, every isolation check held and every downloaded MIDI file identical to the "
        "session's own groove.",
    ]


def markdown(results: dict) -> list[str]:
    outcome: Outcome = results["outcome"]
    isolation = ("**every check held**" if not outcome.foreign else
                 f"**{len(outcome.foreign)} failures**: " + "; ".join(outcome.foreign[:5]))
    lines = [
        *thread_lines(),
        "",
        f"**{results['sessions']} browser sessions** (`python -m bench.load_test --sessions {results['sessions']} "
        f"--minutes {results['minutes']:g} --seed {results['seed']} --arrival-seconds {results['arrival']:g} "
        f"--think-seconds {results['think'][0]:g} {results['think'][1]:g}`): "
        f"one `streamlit run`, {results['sessions']} browser contexts in one headless Chromium on the same machine, "
        "arriving one by one "
        f"over {results['arrival']:g} s, then each playing a seeded random script for {results['minutes']:g} min "
        "(filter the table, add a seed, generate, interpolate, download a MIDI file; "
        f"{results['think'][0]:g}–{results['think'][1]:g} s between interactions). {machine()}, "
        "shared by the server and the browser, the browser at `nice 19` so that the server "
        "runs first, as if its users had their own computers "
        f"(load average {results['load'][0]:.1f} at the end of the run, {results['load'][2]:.1f} over 15 min). "
        f"The server used {results['server_cpu']:.0f} CPU-seconds in {results['wall']:.0f} s "
        f"({results['server_cpu'] / results['wall'] / os.cpu_count():.0%} of the machine); the browsers, the rest: "
        "the latencies include their own drawing on the same two cores.",
        "",
        f"- {outcome.interactions()} interactions in {results['wall'] / 60:.1f} min; **{len(outcome.errors)} "
        "errors** (exception boxes, missing results, timeouts, server tracebacks)"
        + (": " + "; ".join(outcome.errors[:5]) if outcome.errors else ""),
        f"- isolation: {outcome.checks} on-screen checks (the basket lists exactly the session's seeds; counts, "
        "random seeds and result titles are the session's own) and "
        f"{results['verified']} downloaded MIDI files compared byte for byte with the groove the session asked "
        f"for: {isolation}",
        "",
        "| interaction (click → checked result on screen) | count | p50 s | p95 s | max s |",
        "|---|---|---|---|---|",
    ]
    for kind, values in sorted(outcome.latencies.items(), key=lambda item: -len(item[1])):
        lines.append(f"| {kind} | {len(values)} | {statistics.median(values):.2f} | {percentile(values, 95):.2f} | "
                     f"{max(values):.2f} |")
    return [*lines, "", *subset_lines()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0, help="seeds every session's script")
    parser.add_argument("--think-seconds", type=float, nargs=2, default=THINK_SECONDS, metavar=("LEAST", "MOST"),
                        help="each session's pause between interactions, drawn uniformly")
    parser.add_argument("--arrival-seconds", type=float, default=60.0,
                        help="the sessions arrive one by one over this long (all at once: 0)")
    parser.add_argument("--write", action="store_true", help=f"update the '{SECTION}' section of {DOC.name}")
    args = parser.parse_args(argv)
    try:
        gmd.gmd_root(download=False)  # where the app will find it: $GROOVE_DIR, else data/groove
    except DatasetError as error:
        parser.error(str(error))
    lines = markdown(measure(args.sessions, args.minutes, args.seed, args.arrival_seconds,
                           tuple(args.think_seconds)))
    publish(SECTION, lines, args.write, DOC)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
