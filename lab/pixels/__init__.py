"""Pixel-level scenes: real people cut out of real photos, walking seeded scenes on a street."""
