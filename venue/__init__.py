"""The venue server: one live occupancy per venue from many door sensors (DESIGN.md 4.4).

Runs on any machine that reaches the broker. It imports nothing of `edge` but the message
contract (`edge.messages`); everything else here is its own.
"""
