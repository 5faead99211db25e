// A slider that tells Python once a move settles: on the pointer's release, or a moment after the last key press
// (holding an arrow key, PageUp/PageDown, Home/End), not on every step as Streamlit's own slider does. Native range
// inputs, so keyboard use and screen readers work as they do anywhere; two thumbs for a range. It works on
// positions 0…n-1 over `labels`; Python turns a position into its value. State value "value": [a position, or
// [low, high] for a range; an id new for every move (a move back to a position sent before is a move too)].
const instances = new WeakMap();  // parentElement → the slider's own state, kept across reruns
// A held key sends once, on its release (after KEY_UP_MS, so that quick taps add up to one move too); any other change
// (assistive technology, say) SETTLE_MS after the last.
const KEY_UP_MS = 150, SETTLE_MS = 300;

function build(root, data, slider) {
  const thumbs = Array.isArray(data.value) ? ["from", "to"] : [""];
  root.innerHTML = `
    <div class="head"><span class="label"></span><span class="help" hidden>?</span>
      <output class="readout" aria-live="off"></output></div>
    <div class="track${thumbs.length === 1 ? " single" : ""}">${thumbs.map((part) => `<input type="range" min="0" step="1" data-part="${part}">`).join("")}</div>
    <div class="ends"><span class="low"></span><span class="high"></span></div>`;
  slider.inputs = [...root.querySelectorAll("input")];
  slider.readout = root.querySelector(".readout");
  slider.inputs.forEach((input) => {
    input.addEventListener("input", () => moved(slider, input));
    input.addEventListener("keydown", () => { slider.keyDown = true; clearTimeout(slider.timer); });
    input.addEventListener("keyup", () => {
      slider.keyDown = false;
      if (slider.timer !== null) schedule(slider, KEY_UP_MS);
    });
    // a mouse or touch move ends on release: sent then ("change" comes on release; for keys it comes every step)
    input.addEventListener("pointerdown", () => { slider.dragging = true; });
    input.addEventListener("change", () => { if (slider.dragging) { slider.dragging = false; send(slider); } });
    input.addEventListener("blur", () => { if (slider.timer) send(slider); });
  });
  // the pointer may come up anywhere on the page
  slider.released = () => { if (slider.dragging) { slider.dragging = false; if (slider.timer) send(slider); } };
  for (const end of ["pointerup", "pointercancel"]) document.addEventListener(end, slider.released, true);
}

function positions(slider) {
  return slider.inputs.map((input) => Number(input.value));
}

function moved(slider, input) {
  if (slider.inputs.length === 2) {  // the thumbs never cross
    const [low, high] = positions(slider);
    if (low > high) input.value = input.dataset.part === "from" ? high : low;
  }
  show(slider);
  schedule(slider, slider.keyDown || slider.dragging ? null : SETTLE_MS);  // a held key or pointer: sent on release
}

function schedule(slider, ms) {  // a send after `ms`; null: a move is open, its send comes later
  clearTimeout(slider.timer);
  slider.timer = ms === null ? -1 : setTimeout(() => send(slider), ms);
}

function send(slider) {
  clearTimeout(slider.timer);
  slider.timer = null;
  const now = positions(slider);
  const value = now.length === 2 ? now : now[0];
  if (JSON.stringify(value) === JSON.stringify(slider.sent)) return;
  slider.sent = value;
  slider.sends += 1;
  slider.root.dataset.sends = String(slider.sends);  // how often it told Python (tests and the bench read it)
  slider.lastMove = `${slider.id}-${slider.sends}`;
  slider.setStateValue("value", [value, slider.lastMove]);
}

function show(slider) {
  const labels = slider.labels;
  const now = positions(slider);
  slider.readout.textContent = now.map((p) => labels[p]).join(" – ");
  slider.inputs.forEach((input, i) => input.setAttribute("aria-valuetext", labels[now[i]]));
  const fill = slider.inputs.length === 2 ? now : [0, now[0]];
  const last = Math.max(1, labels.length - 1);
  slider.root.style.setProperty("--from", `${(100 * fill[0]) / last}%`);
  slider.root.style.setProperty("--to", `${(100 * fill[1]) / last}%`);
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let slider = instances.get(parentElement);
  if (!slider) {
    slider = { timer: null, dragging: false, python: null, sends: 0, id: Math.random().toString(36).slice(2, 10),
      root: parentElement.querySelector(".settled-slider") };
    instances.set(parentElement, slider);
    build(slider.root, data, slider);
  }
  slider.setStateValue = setStateValue;
  slider.labels = data.labels;
  const root = slider.root;
  root.querySelector(".label").textContent = data.label;
  root.classList.toggle("disabled", Boolean(data.disabled));
  const help = root.querySelector(".help");
  help.hidden = !data.help;
  help.title = data.help || "";
  root.querySelector(".low").textContent = data.labels[0];
  root.querySelector(".high").textContent = data.labels[data.labels.length - 1];
  const names = slider.inputs.length === 2 ? [`${data.label} from`, `${data.label} to`] : [data.label];
  slider.inputs.forEach((input, i) => {
    input.max = String(data.labels.length - 1);
    input.disabled = Boolean(data.disabled);
    input.setAttribute("aria-label", names[i]);
    if (data.help) input.setAttribute("aria-description", data.help);
  });
  // Python's value is taken up when it changed there (a default, the address), or when it differs from this slider's
  // last move after Python has seen that move (a reset pressed with the move), unless a move is open here
  const python = JSON.stringify(data.value);
  const now = positions(slider);
  const overridden = slider.lastMove !== undefined && data.taken === slider.lastMove
    && python !== JSON.stringify(now.length === 2 ? now : now[0]);
  if ((python !== slider.python || overridden) && !slider.timer && !slider.dragging) {
    [].concat(data.value).forEach((p, i) => { slider.inputs[i].value = String(p); });
    slider.sent = data.value;
  }
  slider.python = python;
  show(slider);
  return () => {
    if (slider.timer) send(slider);
    for (const end of ["pointerup", "pointercancel"]) document.removeEventListener(end, slider.released, true);
    instances.delete(parentElement);
  };
}
