// The live player (web_audio.js before this file): Play loops the chosen groove; choosing another while it plays
// switches on the next bar line, the loop's count of bars going on (bar 3 of one groove is followed by bar 4 of the
// next). A row of buttons, or a pad to drag across (the groove under the pointer plays from its next bar).
const players = new WeakMap();  // parentElement → the player's own state, kept across reruns
const SETTLE_MS = 400;  // a choice goes to Python once the pointer rests

function label(state, index) {
  return state.grooves[index] ? state.grooves[index].label : "";
}

function mark(state) {
  state.root.querySelectorAll(".choice").forEach((button, index) => {
    button.classList.toggle("playing", state.playing && index === state.current);
    button.classList.toggle("next", state.playing && index === state.pending);
    button.setAttribute("aria-pressed", index === state.current ? "true" : "false");
  });
  state.now.textContent = state.playing ? `Playing: ${label(state, state.current)}` +
    (state.pending !== null && state.pending !== state.current ? ` → next bar: ${label(state, state.pending)}` : "")
    : `Stopped. ${label(state, state.current)}`;
  state.now.title = state.now.textContent;  // the whole of it on hover, where the line cuts it short
  state.root.dataset.current = state.current;
}

function draw(state) {
  const box = state.root.querySelector(".choices");
  box.className = `choices ${state.layout}`;
  box.style.setProperty("--columns", state.columns || state.grooves.length);
  box.innerHTML = "";
  state.grooves.forEach((groove, index) => {
    const button = document.createElement("button");
    button.className = "choice";
    button.dataset.index = index;
    button.setAttribute("aria-label", `Loop ${groove.label}`);
    button.textContent = state.layout === "pad" ? (state.badges[index] || "") : groove.label;
    box.appendChild(button);
  });
  mark(state);
}

function byStep(groove) {  // notes per 16th, made once per groove
  if (!groove.perStep) {
    groove.perStep = Array.from({ length: groove.steps }, () => []);
    for (const [step, shift, drum, velocity] of groove.notes) groove.perStep[step].push([drum, velocity, shift]);
  }
  return groove.perStep;
}

function nextStep(state) {
  if (state.position % 16 === 0 && state.pending !== null) {  // a bar line: the chosen groove takes over here
    state.current = state.pending;
    state.pending = null;
    state.switches.push(state.nextTime);  // for tests: the audio times of the bar lines where it switched
    setTimeout(() => mark(state), Math.max(0, (state.nextTime - state.audio.currentTime) * 1000));
  }
  const groove = state.grooves[state.current];
  const step = state.position % groove.steps;
  const seconds = 60 / groove.bpm / 4;
  const notes = byStep(groove)[step].map(([drum, velocity, shift]) =>
    [drum, velocity, shift * seconds, state.pitches[drum]]);
  for (const [drum, velocity, shift] of notes) {
    state.log.push([state.nextTime + shift, drum, velocity, state.current]);
    // for tests: a note whose time had passed when it was scheduled (the page's main thread stalled past the
    // lookahead) sounds late, whatever the player does
    const when = state.nextTime + Math.max(shift, 0.01 - EARLY);  // as runLoop plays it
    if (when < state.audio.currentTime) state.late.push(state.nextTime + shift);
  }
  if (state.log.length > 4096) state.log.splice(0, 1024);
  if (state.position % 16 === 0) state.bars.push(state.nextTime);  // for tests: each bar line on the audio clock
  state.position += 1;
  return { seconds, notes };
}

async function play(state) {
  await startAudio(state);
  state.playing = true;
  state.position = 0;
  state.pending = null;
  runLoop(state, () => nextStep(state));
  state.playButton.textContent = "■ Stop";
  state.playButton.setAttribute("aria-label", "Stop the loop");
  mark(state);
}

function stop(state) {
  state.playing = false;
  stopLoop(state);
  state.playButton.textContent = "▶ Play";
  state.playButton.setAttribute("aria-label", "Play the loop");
  mark(state);
}

function choose(state, index) {
  if (index === null || index === undefined || !state.grooves[index]) return;
  if (state.playing) {
    state.pending = index === state.current ? null : index;
  } else {
    state.current = index;
    play(state);  // a click on a groove plays it: one click, not two
  }
  mark(state);
  clearTimeout(state.settle);
  state.settle = setTimeout(() => state.send(state.pending ?? state.current), SETTLE_MS);
}

function build(root, state) {
  root.innerHTML = `
    <div class="controls">
      <button class="play" aria-label="Play the loop">▶ Play</button>
      <span class="now" aria-live="polite"></span>
      <button class="midi-on" aria-label="MIDI out">MIDI out…</button>
      <select class="midi" aria-label="MIDI output port"></select><span class="midi-note"></span>
    </div>
    <div class="choices"></div>`;
  state.root = root;
  state.now = root.querySelector(".now");
  state.playButton = root.querySelector(".play");
  state.playButton.onclick = () => (state.playing ? stop(state) : play(state));
  offerMidiOut(state, root.querySelector(".midi-on"), root.querySelector(".midi"), root.querySelector(".midi-note"));
  const box = root.querySelector(".choices");
  const under = (event) => {
    const scope = box.getRootNode();  // the component may live in a shadow root: ask it, not the document
    const target = (scope.elementFromPoint ? scope : document).elementFromPoint(event.clientX, event.clientY);
    const button = target && target.closest(".choice");
    return button && box.contains(button) ? Number(button.dataset.index) : null;
  };
  box.addEventListener("click", (event) => {
    if (state.dragged) { state.dragged = false; return; }
    choose(state, under(event));  // by position: on the pad the pointer is captured by the pad, not the cell
  });
  box.addEventListener("pointerdown", (event) => {
    if (state.layout !== "pad") return;
    state.dragging = true;
    state.dragged = false;
    box.setPointerCapture(event.pointerId);
  });
  box.addEventListener("pointermove", (event) => {
    if (!state.dragging) return;
    const index = under(event);
    if (index !== null && index !== (state.pending ?? state.current)) {
      state.dragged = true;
      choose(state, index);
    }
  });
  const release = () => { state.dragging = false; };
  box.addEventListener("pointerup", release);
  box.addEventListener("pointercancel", release);
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let state = players.get(parentElement);
  if (!state) {
    state = { playing: false, current: data.chosen, pending: null, position: 0, switches: [], bars: [], log: [],
      late: [] };
    players.set(parentElement, state);
    build(parentElement.querySelector(".live-player"), state);
    window.__livePlayer = state;  // for tests and benchmarks: its bar lines and switches
  }
  state.grooves = data.grooves;
  state.layout = data.layout;
  state.columns = data.columns;
  state.badges = data.badges;
  state.samples = data.samples;
  state.pitches = data.pitches;
  state.send = (index) => setStateValue("chosen", index);
  if (state.current >= state.grooves.length) state.current = 0;
  if (state.pending !== null && state.pending >= state.grooves.length) state.pending = null;
  draw(state);
  if (state.playing) startAudio(state);  // a new kit: its samples
  return () => {
    stop(state);
    if (state.audio) state.audio.close();
    players.delete(parentElement);
  };
}
