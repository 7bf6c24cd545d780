"""Metrics with confidence intervals, threshold selection, figures."""
