"""Serving: the trained run folder turned into predictions (no training code here)."""
