"""Datasets, splits, transforms and image decoding."""
