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
import json
import os
import random
import re
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import machine, publish
from explorer import dataset
from explorer.errors import DatasetError
from explorer.groove import groove_to_midi
from explorer.state import default_seed_rows, window_label
from explorer.ui import file_stem
from tests.browser_helpers import (
    ROOT,
    act_and_time,
    click_and_time,
    launch_chromium,
    new_page,
    open_page,
    running_app,
    shared_chromium,
    wait_idle,
)

DOC = ROOT / "docs" / "RELIABILITY.md"
SECTION = "Many users at once"
WEIGHTS = {"filter": 2, "add seed": 2, "generate": 3, "interpolate": 2, "download": 3}
THINK_SECONDS = (0.5, 2.0)  # the default pause between a session's interactions: far busier than a person
RUN_TIMEOUT_MS = 180_000  # a script run under full load; longer counts as an error
RESULT_TIMEOUT_MS = 60_000  # from the end of the run to the result drawn; and any other step
BASKET_RESET_AT = 12
SAMPLES, TEMPERATURE, SAMPLE_BPM, STEPS = 4, 0.8, 100, 8  # the Generate and Interpolate pages' defaults
SEED_BASE = 1_000_000  # session n draws its random seeds from (n + 1) · SEED_BASE on
PROGRESS_SECONDS = 15
MAIN = "[data-testid='stMain']"
# What the page shows, read in the page: the seed basket's labels, the plot titles (each result's card has its label
# as the title of its drum roll), the number of performances the Dataset page's filters leave.
BASKET = """() => { const basket = Array.from(document.querySelectorAll("[data-testid='stSidebar'] details"))
    .find(d => d.querySelector('summary')?.innerText.includes('Seed basket'));
    return basket ? Array.from(basket.querySelectorAll("[data-testid='stCaptionContainer']"))
        .map(e => e.innerText.trim()) : null; }"""
TITLES = "() => Array.from(document.querySelectorAll('.drum-roll-title')).map(e => e.textContent)"
COUNT = "() => (document.body.innerText.match(/([\\d,]+) of 1,150 performances/) || [])[1]"


class ResultMissing(Exception):
    """The page did not show the result the session expects (an error, unless it shows another session's)."""


class Foreign(Exception):
    """The session was shown something of another session's."""


# --- what every session may see -------------------------------------------------------------------------------


@dataclass
class Catalog:
    """The GMD as the app reads it, the default basket, and each session's own filter texts (whose performances'
    first windows, the seeds a session can add, have labels no other session can add)."""

    info: object
    windows: dataset.WindowSet
    default_rows: list[int]
    texts: list[list[str]]  # per session
    seed_rows: dict[str, int] = field(default_factory=dict)  # filter text -> window row its Basket button adds

    def label(self, row: int) -> str:
        return window_label(self.windows.meta.iloc[row])

    def groove(self, row: int):
        return self.windows.grooves([row])[0]

    def as_played(self, row: int) -> bytes:
        """The window's own notes, as the Dataset page's card downloads them and its Basket button keeps them."""
        meta = self.windows.meta.iloc[row]
        return dataset.load_excerpt(str(meta["midi_filename"]), int(meta["start_bar"])).to_midi()

    def performances(self, text: str) -> list[str]:
        return dataset.filter_info(self.info, text=text)["midi_filename"].tolist()

    def first_window(self, performance: str) -> int:
        return int(self.windows.meta.index[self.windows.meta["midi_filename"] == performance][0])


def build_catalog(sessions: int) -> Catalog:
    info, windows = dataset.load_info(), dataset.load_windows()
    default_rows = default_seed_rows(windows.meta)
    with_windows = set(windows.meta["midi_filename"])
    by_label: dict[str, list[str]] = defaultdict(list)
    seed_rows = {}
    for text in sorted(info["style"].dropna().unique()):
        first = dataset.filter_info(info, text=text)["midi_filename"].iloc[0]
        if first in with_windows:
            row = int(windows.meta.index[windows.meta["midi_filename"] == first][0])
            seed_rows[text] = row
            by_label[window_label(windows.meta.iloc[row])].append(text)
    taken = {window_label(windows.meta.iloc[r]) for r in default_rows}
    groups = [texts for label, texts in sorted(by_label.items()) if label not in taken]
    random.Random(0).shuffle(groups)
    texts: list[list[str]] = [[] for _ in range(sessions)]
    for index, group in enumerate(groups):  # texts sharing a label (they show one performance) stay together
        texts[index % sessions].extend(group)
    if min(len(t) for t in texts) < 2:
        raise SystemExit(f"{sessions} sessions are too many: each needs two filter texts of its own")
    return Catalog(info, windows, default_rows, texts, seed_rows)


# --- one session ----------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the sessions did: latencies per kind, errors, isolation failures, checks, downloads to verify."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    checks: int = 0
    downloads: list[tuple[int, tuple, bytes]] = field(default_factory=list)  # (session, what, MIDI bytes)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def interactions(self) -> int:
        return sum(len(v) for v in self.latencies.values())


class Session:
    """One user: a page, a seeded script, and what that user should be seeing (mirrored here to check it)."""

    def __init__(self, number: int, url: str, catalog: Catalog, outcome: Outcome, seed: int,
                 think_seconds: tuple[float, float] = THINK_SECONDS):
        self.number, self.url, self.catalog, self.outcome = number, url, catalog, outcome
        self.think_seconds = think_seconds
        self.rng = random.Random(f"{seed}-{number}")
        self.generated = 0
        self.page = None
        self.reset_expectations()

    def reset_expectations(self) -> None:
        """A fresh Streamlit session: the Dataset page, the default basket, no filter, no results."""
        self.at = "Dataset"
        self.basket = list(self.catalog.default_rows)
        self.text = ""
        self.performance: str | None = None
        self.sample_seed: int | None = None  # of the results on the Generate page
        self.path: tuple[int, int] | None = None  # (from, to) rows of the results on the Interpolate page
        self.picks = {"From": 0, "To": 1}  # the Interpolate page's seed pickers (basket indices)
        self.shown_seed = 0  # the Generate page's "Random seed"

    # the script

    def start(self, context) -> None:
        self.page = new_page(context)
        self.page.set_default_timeout(RESULT_TIMEOUT_MS)  # Playwright's 30 s is too short for a loaded server
        self.page.set_default_navigation_timeout(RUN_TIMEOUT_MS)
        self.visit()

    def visit(self) -> None:
        begin = time.perf_counter()
        self.page.goto(self.url)
        self.page.get_by_text("of 1,150 performances").wait_for(timeout=RUN_TIMEOUT_MS)
        wait_idle(self.page, RUN_TIMEOUT_MS)
        self.record("first visit", time.perf_counter() - begin)
        self.check_basket()

    def run(self, deadline: float) -> None:
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.monotonic() < deadline:
            time.sleep(self.rng.uniform(*self.think_seconds))
            self.attempt(self.rng.choices(kinds, weights)[0])

    def run_script(self, kinds: list[str]) -> None:
        for kind in kinds:
            self.attempt(kind)

    def attempt(self, kind: str) -> None:
        try:
            getattr(self, kind.replace(" ", "_"))()
            if self.page.locator("[data-testid='stException']").count():
                raise ResultMissing("an exception box: " + self.page.locator("[data-testid='stException']")
                                    .first.inner_text()[:300])
        except Foreign as error:
            self.fail(self.outcome.foreign, kind, error)
        except Exception as error:  # a timeout, a missing result, a dead page: count it, start a new session
            self.fail(self.outcome.errors, kind, error)
            self.reset_expectations()
            try:
                self.visit()
            except Exception as again:
                self.fail(self.outcome.errors, "first visit", again)

    def fail(self, where: list[str], kind: str, error: Exception) -> None:
        message = f"session {self.number}, {kind}: {type(error).__name__}: {str(error).splitlines()[0][:300]}"
        print("  !", message, flush=True)
        with self.outcome.lock:
            where.append(message)

    def act(self, act) -> float:
        """`act` (a click, or Enter), then wait for the script run it starts; returns when it was done, for
        `record` once the result is checked."""
        began = time.perf_counter()
        act_and_time(self.page, act, RUN_TIMEOUT_MS)
        return began

    def record(self, kind: str, seconds: float) -> None:
        with self.outcome.lock:
            self.outcome.latencies[kind].append(seconds)

    def since(self, kind: str, began: float) -> None:
        self.record(kind, time.perf_counter() - began)

    # interactions

    def go(self, name: str) -> None:
        if self.at != name:
            link = self.page.locator("[data-testid='stSidebarNav'] a", has_text=name)
            began = self.act(link.click)
            self.page.get_by_role("heading", name=name).first.wait_for(timeout=RESULT_TIMEOUT_MS)
            self.at = name
            self.check_page()
            self.since("open page", began)

    def filter(self) -> None:
        self.go("Dataset")
        text = self.rng.choice([t for t in self.catalog.texts[self.number] if t != self.text])
        box = self.page.get_by_label("Style contains", exact=True)
        box.fill(text)
        began = self.act(lambda: box.press("Enter"))
        self.text = text
        performances = self.catalog.performances(text)
        if self.performance not in performances:  # the app keeps the chosen performance while it is listed
            self.performance = performances[0]
        self.check_page()
        self.since("filter", began)

    def add_seed(self) -> None:
        if len(self.basket) >= BASKET_RESET_AT:
            defaults = self.page.locator("[data-testid='stSidebar']").get_by_role("button", name="Defaults")
            began = self.act(defaults.click)
            self.basket = list(self.catalog.default_rows)
            self.check_basket()
            self.since("reset basket", began)
        if self.at != "Dataset" or not self.text:
            self.filter()
        began = self.act(self.page.locator(MAIN).get_by_role("button", name="Basket").click)
        row = self.catalog.first_window(self.performance)
        if row not in self.basket:
            self.basket.append(row)
        self.check_basket()
        self.since("add seed", began)

    def generate(self) -> None:
        self.go("Generate")
        seed = (self.number + 1) * SEED_BASE + 10 * self.generated  # never the one shown (the last one + 1)
        self.generated += 1
        box = self.page.get_by_label("Random seed", exact=True)
        box.fill(str(seed))
        began = self.act(lambda: box.press("Enter"))
        self.shown_seed = seed
        self.check_page()
        self.since("set seed", began)
        began = self.act(self.page.get_by_role("button", name="Generate", exact=True).click)
        self.sample_seed, self.shown_seed = seed, seed + 1
        self.check_page()
        self.since("generate", began)

    def interpolate(self) -> None:
        self.go("Interpolate")
        own = [i for i, row in enumerate(self.basket) if row not in self.catalog.default_rows]
        choice = self.rng.choice(own or range(len(self.basket)))
        if choice != self.picks["From"]:
            self.page.locator(f"{MAIN} [data-testid='stSelectbox']", has_text="From").click()
            began = self.act(self.page.get_by_role("option").nth(choice).click)
            self.picks["From"] = choice
            self.check_page()
            self.since("pick seed", began)
        began = self.act(self.page.get_by_role("button", name="Interpolate", exact=True).click)
        self.path = (self.basket[self.picks["From"]], self.basket[self.picks["To"]])
        self.check_page()
        self.since("interpolate", began)

    def download(self) -> None:
        """A MIDI file of what this page shows: a generated sample, the path's first step, or the dataset window."""
        if self.at == "Generate" and self.sample_seed is not None:
            index = self.rng.randrange(SAMPLES)
            what, title = ("sample", self.sample_seed, index), self.sample_titles()[index]
        elif self.at == "Interpolate" and self.path is not None:
            index, what, title = 1, ("step", *self.path), self.path_titles()[1]
        else:
            if self.at != "Dataset" or not self.text:
                self.filter()
            row = self.catalog.first_window(self.performance)
            index, what, title = 0, ("window", row), self.catalog.label(row)
        buttons = self.page.locator(f"{MAIN} [data-testid='stDownloadButton']").filter(has_text=re.compile(r"MIDI$"))
        began = time.perf_counter()
        with self.page.expect_download(timeout=RESULT_TIMEOUT_MS) as event:
            buttons.nth(index).click()
        with tempfile.TemporaryDirectory(prefix="load-test-") as folder:  # the browser is remote: it sends a copy
            event.value.save_as(Path(folder) / "download.mid")
            data = (Path(folder) / "download.mid").read_bytes()
        self.record("download", time.perf_counter() - began)
        name = event.value.suggested_filename
        if name != f"{file_stem(title)}.mid":
            self.raise_unexpected(f"downloaded '{name}', not the MIDI of '{title}'", [name])
        if data[:4] != b"MThd":
            raise ResultMissing(f"'{name}' is no MIDI file (it starts with {data[:4]!r})")
        with self.outcome.lock:
            self.outcome.downloads.append((self.number, what, data))

    # checks: wait until the page shows what this session expects; tell a foreign result from a missing one

    def sample_titles(self) -> list[str]:
        return [f"sample {i + 1} · random seed {self.sample_seed} · T {TEMPERATURE:g} · {SAMPLE_BPM:.0f} bpm"
                for i in range(SAMPLES)]

    def path_titles(self) -> list[str]:
        first = self.catalog.groove(self.path[0])  # step 1 plays at the first seed's tempo
        return [f"interpolation in {STEPS} steps", f"step 1 of {STEPS} · {first.bpm:.0f} bpm"]

    def check_page(self) -> None:
        self.check_basket()
        if self.at == "Dataset" and self.text:
            count = f"{len(self.catalog.performances(self.text)):,}"
            self.wait_for(f"({COUNT})() === {json.dumps(count)}", "the count of performances",
                          lambda: [self.page.evaluate(COUNT)])
            self.check_titles([self.catalog.label(self.catalog.first_window(self.performance))])
        elif self.at == "Generate":
            field = json.dumps(f"{MAIN} input[aria-label='Random seed']")
            self.wait_for(f"document.querySelector({field})?.value === '{self.shown_seed}'", "the random seed",
                          lambda: [self.page.get_by_label("Random seed", exact=True).input_value()])
            if self.sample_seed is not None:
                self.check_titles(self.sample_titles())
        elif self.at == "Interpolate" and self.path is not None:
            self.check_titles(self.path_titles())

    def check_basket(self) -> None:
        expected = [self.catalog.label(row) for row in self.basket]
        same = f"(shown => shown?.length === {len(expected)} && shown.every((x, i) => x === {json.dumps(expected)}[i]))"
        self.wait_for(f"{same}(({BASKET})())", "the seed basket", lambda: self.page.evaluate(BASKET) or [])

    def check_titles(self, expected: list[str]) -> None:
        self.wait_for(f"({TITLES})().filter(t => {json.dumps(expected)}.includes(t)).length === {len(expected)}",
                      f"the results {expected}", lambda: self.page.evaluate(TITLES))

    def wait_for(self, condition: str, what: str, shown) -> None:
        with self.outcome.lock:
            self.outcome.checks += 1
        try:
            self.page.wait_for_function(f"() => {condition}", timeout=RESULT_TIMEOUT_MS, polling=100)
        except Exception:
            self.raise_unexpected(f"{what} never appeared", shown())

    def raise_unexpected(self, message: str, shown: list[str]) -> None:
        """Foreign when anything shown belongs to another session, else ResultMissing."""
        theirs = [text for text in shown for other in range(len(self.catalog.texts)) if other != self.number
                  and self.owned_by(other, str(text))]
        if theirs:
            raise Foreign(f"{message}; shown: {theirs[:3]}")
        raise ResultMissing(f"{message}; shown: {shown[:6]}")

    def owned_by(self, other: int, text: str) -> bool:
        labels = [self.catalog.label(self.catalog.seed_rows[t]) for t in self.catalog.texts[other]]
        seeds = re.findall(r"\d{7,}", text)
        return (any(label in text for label in labels)
                or any(int(s) // SEED_BASE == other + 1 for s in seeds))


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
    """Every downloaded MIDI file against the groove the session asked for, made on this process's model (the
    model is deterministic for a seed: tests/test_concurrency.py). Mismatches are isolation failures."""
    from explorer import generate
    from explorer.checkpoints import load_model

    model = load_model()
    for number, what, data in outcome.downloads:
        if what[0] == "window":  # the Dataset card's MIDI: the window as played
            expected = catalog.as_played(what[1])
        elif what[0] == "sample":
            groove = generate.sample(model, SAMPLES, TEMPERATURE, what[1], bpm=SAMPLE_BPM)[what[2]]
            expected = groove_to_midi(groove, groove.bpm)
        elif what[1] in catalog.default_rows:  # the path's first step is its From seed as played: a default seed …
            expected = groove_to_midi(catalog.groove(what[1]))
        else:  # … or one the session added on the Dataset page, which keeps the window's own notes
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
    """What tests/test_concurrency.py proves about the shared model and synth (the section's first paragraph)."""
    from tests.test_concurrency import ROUNDS, THREADS

    return [
        "**Shared model and synth, from threads** (`tests/test_concurrency.py`). Every session's script runs in a "
        "thread of the one server process and uses the same cached model and the same soundfont. The test hammers "
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
        "**In the test suite:** `tests/test_concurrency.py::test_sessions_side_by_side_see_only_their_own_seeds_and_"
        "results` (marked `browser`) runs the same session code with 3 sessions at once on one fixed script (filter "
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
        dataset.gmd_root(download=False)  # where the app will find it: $GROOVE_DIR, else data/groove
    except DatasetError as error:
        parser.error(str(error))
    lines = markdown(measure(args.sessions, args.minutes, args.seed, args.arrival_seconds,
                           tuple(args.think_seconds)))
    publish(SECTION, lines, args.write, DOC)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
