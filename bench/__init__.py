"""Bench: run exported artifacts on each runtime, for parity, accuracy and latency."""
