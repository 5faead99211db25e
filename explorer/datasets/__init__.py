"""The data: the Groove MIDI Dataset (find, download, filter, cut into windows; gmd.py) and a user's own folder of
MIDI (folder.py)."""
