# The same install as `make run`: Python 3.11, FluidSynth + General MIDI soundfont, pinned requirements.
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# GMD is downloaded into data/ on first use (or mount a copy and set GROOVE_DIR).
EXPOSE 8501
CMD ["streamlit", "run", "streamlit_app.py", "--server.port=8501", "--server.address=0.0.0.0"]
