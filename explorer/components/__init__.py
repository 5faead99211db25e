"""Streamlit custom components (Components v2): each keeps its JS and CSS in its own folder, beside the Python that
registers it and checks what it sends back."""
