// Shared by the step grid and the live player (Python puts it before each one's own code): the sidebar kit's
// one-shots played on the Web Audio clock, a loop scheduler that asks for each 16th's notes just ahead of time, and
// MIDI out (Web MIDI) of the same notes at the same times.
const LOOKAHEAD = 0.12;  // s: notes are scheduled this far ahead of the audio clock
const EARLY = 0.15;  // s: a 16th is scheduled this much sooner still, so that its notes played early are not late
const TICK_MS = 25;
const MIDI_NOTE_MS = 60;  // drums ring on their own: a short note-off after each note-on
const MIDI_RESYNC_MS = 5;  // a jump of the audio clock against the MIDI clock bigger than this is followed at once
const MIDI_CLOCK_FOLLOW = 0.01;  // a smaller one moves the mapping this share per reading (the devices' drift)

// The kits' one-shots by address (static files of the app), fetched once per page and kept while it is open: every
// player of the page, and every new player a rerun mounts, decodes from these bytes.
const fetchedSamples = new Map();
function sampleBytes(url) {
  if (!fetchedSamples.has(url)) {
    const bytes = fetch(url).then((response) => {
      if (!response.ok) throw new Error(`${url}: ${response.status}`);
      return response.arrayBuffer();
    });
    bytes.catch(() => fetchedSamples.delete(url));  // a failed fetch is tried again on the next start
    fetchedSamples.set(url, bytes);
  }
  return fetchedSamples.get(url);
}

// Creates the audio context on a user's gesture and decodes the kit's samples (again when the kit changes).
async function startAudio(state) {
  if (!state.audio) {
    state.audio = new AudioContext({ latencyHint: 0 });  // the lowest the device allows: a click is heard at once
    state.master = state.audio.createGain();
    state.master.connect(state.audio.destination);
    if (window.__recordAudio) await recordInto(state);
  }
  if (state.audio.state !== "running") await state.audio.resume();
  const wanted = JSON.stringify(state.samples);  // the same kit's addresses arrive as a new object on each rerun
  if (state.samplesLoaded !== wanted) {
    const rows = Object.keys(state.samples);
    // decodeAudioData takes its buffer over: each decoding gets a copy of the kept bytes
    const decoded = await Promise.all(rows.map(async (row) =>
      state.audio.decodeAudioData((await sampleBytes(state.samples[row])).slice(0))));
    if (wanted === JSON.stringify(state.samples)) {
      state.buffers = decoded;
      state.samplesLoaded = wanted;
    }
  }
}

// For tests and benchmarks only (window.__recordAudio, set before the page loads): the samples the player outputs,
// in chunks stamped with their frame on the audio clock, on window.__recorded. The recorder runs on the audio thread
// (an AudioWorklet): a page busy with a rerun delays its chunks but loses none (a ScriptProcessor did).
const RECORDER = `registerProcessor("recorder", class extends AudioWorkletProcessor {
  process(inputs) {
    if (inputs[0].length) this.port.postMessage([currentFrame, inputs[0][0].slice()]);
    return true;
  }
});`;
async function recordInto(state) {
  window.__recorded = { sampleRate: state.audio.sampleRate, chunks: [] };
  const module = URL.createObjectURL(new Blob([RECORDER], { type: "text/javascript" }));
  await state.audio.audioWorklet.addModule(module);
  const tap = new AudioWorkletNode(state.audio, "recorder");
  tap.port.onmessage = (event) => window.__recorded.chunks.push([event.data[0], Array.from(event.data[1])]);
  state.master.connect(tap);
  tap.connect(state.audio.destination);  // silent: pulled by the graph only while connected
}

// One note: a drum row's sample at `velocity` (1-127) at audio time `when`, and the same note on the MIDI output.
function sound(state, row, velocity, when, pitch) {
  const buffer = state.buffers && state.buffers[row];
  if (buffer) {
    const source = state.audio.createBufferSource();
    const gain = state.audio.createGain();
    gain.gain.value = (velocity / 127) ** 2;  // as the rendered files: ~24 dB from velocity 30 to 120
    source.buffer = buffer;
    source.connect(gain).connect(state.master);
    source.start(when);
  }
  if (state.midiOutput && pitch) {
    const at = midiTime(state, when);
    state.midiOutput.send([0x99, pitch, velocity], at);  // channel 10: drums
    state.midiOutput.send([0x89, pitch, 0], at + MIDI_NOTE_MS);
  }
}

// The audio clock → the MIDI clock (performance.now, ms) through the moment the output is heard, not the moment this
// code runs. getOutputTimestamp's pair jitters by a few ms from call to call (more on a busy CPU), so their offset is
// smoothed and the notes keep their spacing on the MIDI out; a jump bigger than MIDI_RESYNC_MS (the audio device
// stalled and the browser re-synced its clock) is followed at once, so MIDI stays with the audio as heard.
function midiTime(state, when) {
  const stamp = state.audio.getOutputTimestamp ? state.audio.getOutputTimestamp() : {};
  if (!stamp.performanceTime) return performance.now() + Math.max(0, when - state.audio.currentTime) * 1000;
  if (stamp.contextTime !== state.midiStampTime) {  // a new reading (the notes of a 16th share one): taken once
    state.midiStampTime = stamp.contextTime;
    const offset = stamp.performanceTime - stamp.contextTime * 1000;
    const jumped = state.midiOffset === undefined || Math.abs(offset - state.midiOffset) > MIDI_RESYNC_MS;
    state.midiOffset = jumped ? offset : state.midiOffset + (offset - state.midiOffset) * MIDI_CLOCK_FOLLOW;
  }
  return state.midiOffset + when * 1000;
}

// Loops until stopLoop: nextStep() gives each 16th in turn as {seconds, notes: [[row, velocity, shift seconds,
// pitch]], onPlay}; its notes sound at its time plus their shift (early ones up to EARLY before it).
function runLoop(state, nextStep) {
  stopLoop(state);
  state.nextTime = state.audio.currentTime + 0.06;
  const tick = () => {
    while (state.nextTime - EARLY < state.audio.currentTime + LOOKAHEAD) {
      const step = nextStep();
      for (const [row, velocity, shift, pitch] of step.notes) {
        sound(state, row, velocity, state.nextTime + Math.max(shift, 0.01 - EARLY), pitch);
      }
      if (step.onPlay) setTimeout(step.onPlay, Math.max(0, (state.nextTime - state.audio.currentTime) * 1000));
      state.nextTime += step.seconds;
    }
  };
  state.timer = setInterval(tick, TICK_MS);
  tick();
}

function stopLoop(state) {
  clearInterval(state.timer);
  state.timer = null;
}

// MIDI out (Web MIDI: Chromium-based browsers, on localhost or HTTPS), asked for only when the listener presses the
// button (the browser may ask their permission): then a <select> of the outputs; the chosen one gets every note
// the player plays. Where there is no Web MIDI, one sentence says so.
function offerMidiOut(state, button, select, note) {
  select.hidden = true;
  if (!navigator.requestMIDIAccess) {
    button.hidden = true;
    note.textContent = "MIDI out needs Web MIDI: a Chromium-based browser, on localhost or HTTPS.";
    return;
  }
  button.onclick = async () => {
    try {
      const access = await navigator.requestMIDIAccess();
      const fill = () => {
        const outputs = Array.from(access.outputs.values());
        select.innerHTML = '<option value="">off</option>' + outputs.map((output) =>
          `<option value="${output.id}">${output.name}</option>`).join("");
        note.textContent = outputs.length ? "" : "No MIDI output port is open (start a DAW or a virtual port).";
      };
      fill();
      access.onstatechange = fill;
      select.onchange = () => { state.midiOutput = access.outputs.get(select.value) || null; };
      button.hidden = true;
      select.hidden = false;
    } catch (error) {
      note.textContent = `MIDI out was not allowed (${error.name}).`;
    }
  };
}
