"""One session of the load test (bench/load_test.py): a browser context playing a seeded random script of real
interactions, each timed from the click to its checked result, and checked against what only it may see."""

from __future__ import annotations

import json
import random
import re
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from explorer.app.naming import file_stem
from explorer.app.state import default_seed_rows, performance_bars, window_label
from explorer.datasets import gmd
from explorer.notes.grid import WINDOW_BARS
from explorer.notes.midi_write import groove_to_midi
from tests.system.browser_helpers import (
    act_and_time,
    new_page,
    wait_idle,
)

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
    windows: gmd.WindowSet
    default_rows: list[int]
    texts: list[list[str]]  # per session
    seed_rows: dict[str, int] = field(default_factory=dict)  # filter text -> window row its Basket button adds

    def label(self, row: int) -> str:
        return window_label(self.windows.meta.iloc[row])

    def groove(self, row: int):
        return self.windows.grooves([row])[0]

    def as_played(self, row: int) -> bytes:
        """The MIDI file the app promises for a window, wherever it shows one (the Dataset page's card, a seed in the
        basket, a path's first step): the drummer's own notes of its bars, on their own pitches; the model's view
        only where the performance is shorter than the window (repeated to fill it). Made here from GMD's files, not
        through the app's code (explorer/app/state.py `with_notes_as_played`) that it checks."""
        meta = self.windows.meta.iloc[row]
        if performance_bars(meta) < WINDOW_BARS:
            return groove_to_midi(self.groove(row))
        return gmd.load_excerpt(str(meta["midi_filename"]), int(meta["start_bar"])).to_midi()

    def performances(self, text: str) -> list[str]:
        return gmd.filter_info(self.info, text=text)["midi_filename"].tolist()

    def first_window(self, performance: str) -> int:
        return int(self.windows.meta.index[self.windows.meta["midi_filename"] == performance][0])


def build_catalog(sessions: int) -> Catalog:
    info, windows = gmd.load_info(), gmd.load_windows()
    default_rows = default_seed_rows(windows.meta)
    with_windows = set(windows.meta["midi_filename"])
    by_label: dict[str, list[str]] = defaultdict(list)
    seed_rows = {}
    for text in sorted(info["style"].dropna().unique()):
        first = gmd.filter_info(info, text=text)["midi_filename"].iloc[0]
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
