// The step grid: 9 drums × 16 steps a bar, 1-4 bars. A click toggles a hit; Shift + click (or Shift + Enter) cycles
// its level: normal → accent → ghost. Arrow keys move between cells, Enter or Space toggles. Play loops the beat on
// the Web Audio clock with the kit's own samples (web_audio.js, before this file), edits heard at once, a playhead
// on the step, and MIDI out. The beat goes to Python as the state value "beat": {bars, bpm, swing, hits: [[row,
// step, level]]}.
const instances = new WeakMap();  // parentElement → the grid's own state, kept across reruns
const SEND_MS = 250, HISTORY = 100;

function build(root, data, grid) {
  const { bars: maxBars, bpm: [minBpm, maxBpm], swing: [minSwing, maxSwing] } = data.limits;
  root.innerHTML = `
    <div class="controls">
      <button class="play" aria-label="Play the beat">▶ Play</button>
      <label>Tempo <input class="bpm" type="number" min="${minBpm}" max="${maxBpm}" step="1" aria-label="Beat tempo (bpm)"></label>
      <label>Swing <input class="swing" type="range" min="${minSwing}" max="${maxSwing}" step="1" aria-label="Swing">
        <span class="swing-value"></span></label>
      <label>Bars <select class="bars" aria-label="Beat length (bars)">${Array.from({ length: maxBars }, (_, i) =>
        `<option value="${i + 1}">${i + 1}</option>`).join("")}</select></label>
      <button class="copy" aria-label="Copy bar 1 to every bar">Copy bar 1</button>
      <button class="undo" aria-label="Undo">Undo</button>
      <button class="clear" aria-label="Clear the grid">Clear</button>
      <button class="midi-on" aria-label="MIDI out">MIDI out…</button>
      <select class="midi" aria-label="MIDI output port"></select><span class="midi-note"></span>
    </div>
    <div class="grid" role="grid" aria-label="Step grid"></div>
    <div class="status" aria-live="polite">Click a cell for a hit; Shift + click for accent or ghost.</div>`;
  grid.root = root;
  grid.cellsBox = root.querySelector(".grid");
  grid.status = root.querySelector(".status");
  offerMidiOut(grid, root.querySelector(".midi-on"), root.querySelector(".midi"), root.querySelector(".midi-note"));
}

function drawCells(grid) {
  const { beat, rows } = grid;
  const box = grid.cellsBox;
  box.style.setProperty("--steps", beat.bars * 16);
  box.innerHTML = "";
  const levels = new Map(beat.hits.map(([row, step, level]) => [row * 1000 + step, level]));
  rows.forEach((name, row) => {
    const line = document.createElement("div");
    line.className = "row";
    line.setAttribute("role", "row");
    const label = document.createElement("span");
    label.className = "drum";
    label.textContent = name;
    line.appendChild(label);
    for (let step = 0; step < beat.bars * 16; step++) {
      const cell = document.createElement("button");
      const level = levels.get(row * 1000 + step) || 0;
      cell.className = `cell level-${level}` + (step % 4 === 0 ? " beat" : "") + (step % 16 === 0 ? " bar" : "");
      cell.dataset.row = row;
      cell.dataset.step = step;
      cell.setAttribute("role", "gridcell");
      cell.setAttribute("aria-label", `${name}, bar ${Math.floor(step / 16) + 1}, step ${(step % 16) + 1}`);
      cell.setAttribute("aria-pressed", level ? "true" : "false");
      cell.tabIndex = row === grid.focus[0] && step === grid.focus[1] ? 0 : -1;
      line.appendChild(cell);
    }
    box.appendChild(line);
  });
  const { root } = grid;
  root.querySelector(".bpm").value = beat.bpm;
  root.querySelector(".swing").value = beat.swing;
  root.querySelector(".swing-value").textContent = `${beat.swing} %`;
  root.querySelector(".bars").value = String(beat.bars);
  root.querySelector(".undo").disabled = grid.history.length === 0;
}

function levelOf(grid, row, step) {
  const hit = grid.beat.hits.find(([r, s]) => r === row && s === step);
  return hit ? hit[2] : 0;
}

function change(grid, edit) {  // every edit: undoable, drawn, sent (after a short pause)
  grid.history.push(JSON.stringify(grid.beat));
  if (grid.history.length > HISTORY) grid.history.shift();
  edit(grid.beat);
  drawCells(grid);
  sendSoon(grid);
}

function sendSoon(grid) {
  clearTimeout(grid.sendTimer);
  grid.sendTimer = setTimeout(() => flush(grid), SEND_MS);
}

// An edit not yet sent goes now: before a press anywhere else on the page (a page link, a button), so that its rerun
// reaches Streamlit first and the press's own (a page switch) comes after it, not lost behind it.
function flush(grid) {
  if (grid.sendTimer === null) return;
  clearTimeout(grid.sendTimer);
  grid.sendTimer = null;
  grid.send();
}

function setLevel(grid, row, step, level) {
  change(grid, (beat) => {
    beat.hits = beat.hits.filter(([r, s]) => !(r === row && s === step));
    if (level) beat.hits.push([row, step, level]);
  });
}

function stepOf(grid) {  // the next 16th of the loop, for runLoop
  const { beat } = grid;
  const steps = beat.bars * 16;
  const step = grid.step % steps;
  const seconds = 60 / beat.bpm / 4;
  const late = step % 2 ? (2 * beat.swing / 100 - 1) * seconds : 0;  // the off-beat 16ths, by the swing
  const notes = beat.hits.filter(([, s]) => s === step).map(([row, , level]) =>
    [row, grid.levels[level], late, grid.pitches[row]]);
  grid.step = (step + 1) % steps;
  return { seconds, notes, onPlay: () => showPlayhead(grid, step) };
}

function showPlayhead(grid, step) {
  if (!grid.playing) return;
  grid.cellsBox.querySelectorAll(".cell.now").forEach((cell) => cell.classList.remove("now"));
  grid.cellsBox.querySelectorAll(`.cell[data-step="${step}"]`).forEach((cell) => cell.classList.add("now"));
  grid.root.dataset.playhead = step;
}

async function play(grid) {
  await startAudio(grid);
  grid.playing = true;
  grid.step = 0;
  runLoop(grid, () => stepOf(grid));
  const button = grid.root.querySelector(".play");
  button.textContent = "■ Stop";
  button.setAttribute("aria-label", "Stop the beat");
}

function stop(grid) {
  grid.playing = false;
  stopLoop(grid);
  grid.cellsBox.querySelectorAll(".cell.now").forEach((cell) => cell.classList.remove("now"));
  const button = grid.root.querySelector(".play");
  button.textContent = "▶ Play";
  button.setAttribute("aria-label", "Play the beat");
}

function listen(grid) {
  const { root } = grid;
  const hear = (row, level, eventTime) => {  // the click's own sound, then how long it took to leave the context
    sound(grid, row, grid.levels[level], 0, grid.pitches[row]);
    const audio = grid.audio;
    const latency = performance.now() - eventTime + 1000 * ((audio.baseLatency || 0) + (audio.outputLatency || 0));
    root.dataset.clickToSoundMs = latency.toFixed(1);
  };
  const press = (cell, cycle, eventTime) => {
    const row = Number(cell.dataset.row), step = Number(cell.dataset.step);
    const level = levelOf(grid, row, step);
    const next = cycle ? (level === 0 ? 3 : level === 2 ? 3 : level === 3 ? 1 : 2) : (level ? 0 : 2);
    const ready = grid.audio && grid.audio.state === "running" && grid.samplesLoaded === JSON.stringify(grid.samples);
    if (next && ready) hear(row, next, eventTime);  // sound first: redrawing the grid can wait a few ms
    grid.focus = [row, step];
    setLevel(grid, row, step, next);
    root.querySelector(`.cell[data-row="${row}"][data-step="${step}"]`).focus();
    if (next && !ready) startAudio(grid).then(() => hear(row, next, eventTime));
  };
  grid.cellsBox.addEventListener("click", (event) => {
    const cell = event.target.closest(".cell");
    if (cell) press(cell, event.shiftKey, event.timeStamp);
  });
  grid.cellsBox.addEventListener("keydown", (event) => {
    const cell = event.target.closest(".cell");
    if (!cell) return;
    const row = Number(cell.dataset.row), step = Number(cell.dataset.step);
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (moves[event.key]) {
      event.preventDefault();
      const steps = grid.beat.bars * 16, rows = grid.rows.length;
      const to = [(row + moves[event.key][0] + rows) % rows, (step + moves[event.key][1] + steps) % steps];
      cell.tabIndex = -1;
      grid.focus = to;
      const target = root.querySelector(`.cell[data-row="${to[0]}"][data-step="${to[1]}"]`);
      target.tabIndex = 0;
      target.focus();
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      press(cell, event.shiftKey, event.timeStamp);
    }
  });
  root.querySelector(".play").onclick = () => (grid.playing ? stop(grid) : play(grid));
  root.querySelector(".bpm").onchange = (event) => {
    const [low, high] = grid.limits.bpm;
    const bpm = Math.round(Number(event.target.value));
    if (bpm >= low && bpm <= high) change(grid, (beat) => { beat.bpm = bpm; });
    else event.target.value = grid.beat.bpm;
  };
  const swing = root.querySelector(".swing");
  swing.oninput = () => {  // heard while dragging; one undo step and one send when let go
    if (grid.swingBefore === undefined) grid.swingBefore = grid.beat.swing;
    grid.beat.swing = Number(swing.value);
    root.querySelector(".swing-value").textContent = `${swing.value} %`;
  };
  swing.onchange = () => {
    const value = Number(swing.value);
    if (grid.swingBefore !== undefined) grid.beat.swing = grid.swingBefore;
    grid.swingBefore = undefined;
    change(grid, (beat) => { beat.swing = value; });
  };
  root.querySelector(".bars").onchange = (event) => {
    const bars = Number(event.target.value);
    change(grid, (beat) => {
      beat.bars = bars;
      beat.hits = beat.hits.filter(([, step]) => step < bars * 16);
    });
    grid.step %= bars * 16;
  };
  root.querySelector(".copy").onclick = () => change(grid, (beat) => {
    const first = beat.hits.filter(([, step]) => step < 16);
    beat.hits = [];
    for (let bar = 0; bar < beat.bars; bar++) for (const [row, step, level] of first) beat.hits.push([row, step + 16 * bar, level]);
  });
  root.querySelector(".clear").onclick = () => change(grid, (beat) => { beat.hits = []; });
  root.querySelector(".undo").onclick = () => {
    if (!grid.history.length) return;
    grid.beat = JSON.parse(grid.history.pop());
    drawCells(grid);
    sendSoon(grid);
  };
}

function retire(grid) {  // silent, and no longer listening
  stop(grid);
  document.removeEventListener("pointerdown", grid.pressElsewhere, true);
  if (grid.audio) grid.audio.close();
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let grid = instances.get(parentElement);
  if (grid && !grid.root.isConnected) {  // its element was drawn anew: build on the new one
    retire(grid);
    grid = null;
  }
  if (!grid) {
    grid = { history: [], focus: [0, 0], playing: false, revision: null, sendTimer: null };
    instances.set(parentElement, grid);
    build(parentElement.querySelector(".step-grid"), data, grid);
    listen(grid);
    grid.pressElsewhere = (event) => { if (!event.composedPath().includes(grid.root)) flush(grid); };
    document.addEventListener("pointerdown", grid.pressElsewhere, true);
  }
  grid.rows = data.rows;
  grid.levels = data.levels;
  grid.limits = data.limits;
  grid.samples = data.samples;
  grid.pitches = data.pitches;
  grid.send = () => setStateValue("beat", JSON.parse(JSON.stringify(grid.beat)));
  if (grid.revision !== data.revision) {  // a beat from Python (opened from a card, the address, a new page)
    grid.revision = data.revision;
    grid.beat = JSON.parse(JSON.stringify(data.beat));
    grid.history = [];
    drawCells(grid);
  }
  if (grid.playing) startAudio(grid);  // a new kit: its samples
  return () => {
    flush(grid);
    retire(grid);
    instances.delete(parentElement);
  };
}
