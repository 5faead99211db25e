"""Sound: a groove rendered to audio (rendering.py) by FluidSynth (fluidsynth.py) or the built-in NumPy kit
(drum_synth.py), cached, looped on the bar and limited."""
