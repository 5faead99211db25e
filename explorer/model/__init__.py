"""The model, in TensorFlow: the network (vae.py), its presets (config.py), the serving runtime (runtime.py,
batching.py, lru.py), seeds' refinement (refine.py), the conditions of the multi-task model (conditions.py), weight
surgery, the sampling prior, precision, checkpoints and the import of Magenta's."""
