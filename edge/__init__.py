"""headcount: an edge sensor that counts people and publishes only anonymous counts."""

__version__ = "0.1.0"
