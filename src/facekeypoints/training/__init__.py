"""Training: the loop (train.py) and on-device augmentation (augment.py)."""
