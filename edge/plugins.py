"""What other packages add to the sensor, found through entry points (never imported here).

- `headcount.sources`: a URI scheme (`<scheme>:<rest>`) whose plug-in supplies a detector and
  the frame source that goes with it, e.g. `synthetic:<scene>` from the lab package.
- `headcount.commands`: sub-commands of `headcount` that live outside `edge` (the venue
  server, the benchmark, the verification harness); each entry point names a function
  `register(subparsers) -> None` that adds its parser with `set_defaults(func=...)`.

The sensor's own code never names those packages: imports point inward.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol

from edge.detections import Detector
from edge.frames import FrameSource

log = logging.getLogger(__name__)

SOURCES_GROUP = "headcount.sources"
COMMANDS_GROUP = "headcount.commands"


class PairedSource(Protocol):
    """A detector and a frame source made for each other (a simulated scene, say)."""

    @property
    def detector(self) -> Detector: ...

    def source(self, size: tuple[int, int], *, origin: float | None = None) -> FrameSource: ...


class SourcePlugin(Protocol):
    """Opens `<scheme>:<spec>`; raises `edge.frames.SourceError` with one sentence."""

    def __call__(self, spec: str) -> PairedSource: ...


@dataclass(frozen=True)
class SchemeUri:
    """A URI whose scheme belongs to a plug-in: the scheme, the rest, and the entry point."""

    scheme: str
    spec: str
    entry: EntryPoint

    def open(self) -> PairedSource:
        plugin: SourcePlugin = self.entry.load()
        return plugin(self.spec)


def _entries(group: str) -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=group)}


def plugin_uri(uri: str) -> SchemeUri | None:
    """The plug-in URI `uri` names, or None for the sensor's own sources (camera, file, stream)."""
    scheme, sep, spec = uri.strip().partition(":")
    if not sep or not scheme.isidentifier():
        return None
    entry = _entries(SOURCES_GROUP).get(scheme)
    return SchemeUri(scheme, spec, entry) if entry is not None else None


def register_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Let every installed `headcount.commands` entry point add its sub-command."""
    for name, entry in sorted(_entries(COMMANDS_GROUP).items()):
        try:
            register = entry.load()
        except ImportError as error:  # an optional part is not installed
            log.debug("sub-command %s is unavailable: %s", name, error)
            continue
        register(subparsers)
