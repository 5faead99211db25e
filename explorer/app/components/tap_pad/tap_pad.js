// Tap a rhythm while a click plays: one bar of count-in, then `bars` bars of recording. Taps come from the pad
// (pointer) or the space bar (Shift + space: an accent). Times are read from the Web Audio clock that schedules the
// click, so a tap is placed against the click the player heard. The take goes to Python as the state value "take":
// {bpm, bars, times: [seconds from bar 1], velocities: [1-127]}.
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".tap-pad");
  const bpm = data.bpm, bars = data.bars, beat = 60 / bpm, barSeconds = 4 * beat;
  const record = root.querySelector(".record"), stop = root.querySelector(".stop");
  const pad = root.querySelector(".pad"), status = root.querySelector(".status");
  const lane = root.querySelector(".lane");
  let audio = null, start = null, taps = [], finish = null, running = false;

  const draw = () => {
    lane.innerHTML = "";
    for (let b = 0; b < bars * 4; b++) {
      const line = document.createElement("div");
      line.className = "beat" + (b % 4 === 0 ? " bar" : "");
      line.style.left = `${(100 * b) / (bars * 4)}%`;
      lane.appendChild(line);
    }
    for (const [time] of taps) {
      const dot = document.createElement("div");
      dot.className = "tap";
      dot.style.left = `${(100 * time) / (bars * barSeconds)}%`;
      lane.appendChild(dot);
    }
  };

  const click = (when, accent) => {  // a short sine blip: higher on the bar's first beat
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = accent ? 1760 : 880;
    gain.gain.setValueAtTime(0.3, when);
    gain.gain.exponentialRampToValueAtTime(0.001, when + 0.05);
    osc.connect(gain).connect(audio.destination);
    osc.start(when);
    osc.stop(when + 0.06);
  };

  const end = (send) => {
    running = false;
    clearTimeout(finish);
    record.disabled = false;
    stop.disabled = true;
    status.textContent = send ? `${taps.length} taps recorded.` : "Stopped: nothing kept.";
    if (send) {
      setStateValue("take", { bpm, bars, times: taps.map(([t]) => t), velocities: taps.map(([, v]) => v) });
    }
  };

  const tap = (velocity) => {
    if (!running) return;
    const time = audio.currentTime - start;
    if (time < -beat / 2 || time >= bars * barSeconds) return;
    taps.push([Math.max(time, 0), velocity]);
    pad.classList.add("hit");
    setTimeout(() => pad.classList.remove("hit"), 80);
    draw();
  };

  record.onclick = async () => {
    audio = audio || new AudioContext();
    await audio.resume();
    taps = [];
    draw();
    start = audio.currentTime + 0.1 + barSeconds;  // after one bar of count-in
    for (let b = -4; b < bars * 4; b++) click(start + b * beat, b % 4 === 0);
    running = true;
    record.disabled = true;
    stop.disabled = false;
    status.textContent = `Count-in… then tap ${bars} bar${bars > 1 ? "s" : ""} at ${bpm} bpm (pad or space bar).`;
    finish = setTimeout(() => end(true), (start - audio.currentTime + bars * barSeconds) * 1000 + 150);
    pad.focus();
  };
  stop.onclick = () => end(false);
  pad.onpointerdown = (event) => { event.preventDefault(); tap(100); };
  const keys = (event) => {
    if (event.code !== "Space" || !running) return;
    event.preventDefault();
    if (!event.repeat) tap(event.shiftKey ? 124 : 96);
  };
  document.addEventListener("keydown", keys);
  draw();
  return () => {  // unmounted: no stray listeners, no click left playing
    document.removeEventListener("keydown", keys);
    clearTimeout(finish);
    if (audio) audio.close();
  };
}
