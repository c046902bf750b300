"""`headcount verify`: acceptance and hardware-in-the-loop scoring of a sensor against ground truth.

See lab/verify/README.md for the truth format and the modes.
"""
