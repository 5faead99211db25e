"""Training: the options (options.py), the data (data.py), augmentation, the trainer on one machine or several,
export of a run as a checkpoint, and calibration of its heads and prior."""
