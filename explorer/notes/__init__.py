"""The music data, with no TensorFlow and no Streamlit: the grid and drum tables (leaves), the `Groove` value type
(the model's view), MIDI read and written, the musician's `NoteRecord`, joining grooves and records, drum maps."""
