"""Groove Explorer: explore, generate and humanize drum grooves with a MusicVAE (GrooVAE). The subpackages are
layered (docs/ARCHITECTURE.md): notes at the bottom; model, datasets and audio on it; then tools, analysis and
train; the command line and the web app on top."""
