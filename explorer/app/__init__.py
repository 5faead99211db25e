"""The web app's side of the package, the only one that imports Streamlit: widgets (ui.py), one session's state,
what every session shares (resources.py), plots, the page's address (share.py) and the custom components."""
