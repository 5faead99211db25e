"""The tools, as functions of a model (passed in) and notes: generate (samples, reconstructions, variations, paths,
moves), humanize, drumify, infill and continuation."""
