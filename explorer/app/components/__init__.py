"""Streamlit custom components (Components v2): each keeps its JS and CSS in its own folder, beside the Python that
registers it and checks what it sends back."""

from pathlib import Path

WEB_AUDIO = Path(__file__).with_name("web_audio.js")


def web_audio_js() -> str:
    """The players' shared JavaScript (the kit's samples on the Web Audio clock, the loop scheduler, MIDI out), put
    before a component's own."""
    return WEB_AUDIO.read_text()
