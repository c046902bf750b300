"""Synthetic scenes with exact ground truth, and a detector simulated from them."""
