"""Setup mode: the page an installer uses to draw door lines and zones on the real scene.

Runs only under `headcount setup`, by hand, for a limited time, behind a one-time token.
It serves a background with the people removed (`background`), anonymous feet dots and
a preview of the counts for the lines as drawn (`live`), and writes only the config
file and its backup (`configfile`).
"""
