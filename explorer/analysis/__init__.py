"""Measuring the model and the data: reconstruction metrics, realism against GMD, attribute directions, the
latent map's projection and the cache of GMD's encodings."""
