"""`headcount venue --config venue.toml`: run the venue server (registered as a sub-command).

Exit status: 0 stopped cleanly, 1 a failure while running, 2 a problem the user can fix
(venue.toml, password or history file, listen address), told in one sentence.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EXIT_USAGE = 2


def _fail(message: str, status: int) -> int:
    print(f"headcount venue: {message}", file=sys.stderr)
    return status


def cmd_venue(args: argparse.Namespace) -> int:
    from venue.config import VenueConfigError, load_config
    from venue.server import ListenError, serve
    from venue.store import StoreError

    try:
        config = load_config(args.config)
        return asyncio.run(serve(config))
    except (VenueConfigError, StoreError, ListenError) as error:
        return _fail(str(error), EXIT_USAGE)
    except KeyboardInterrupt:
        return 0


def register(subparsers: Any) -> None:
    """Add `venue` to `headcount`'s sub-commands (entry point group headcount.commands)."""
    parser = subparsers.add_parser(
        "venue", help="run the venue server: live occupancy, alerts, history, the page"
    )
    parser.add_argument("--config", required=True, type=Path, help="the venue.toml file")
    parser.set_defaults(func=cmd_venue)


def main(argv: list[str] | None = None) -> int:
    """`python -m venue --config venue.toml` (the same as `headcount venue`)."""
    parser = argparse.ArgumentParser(prog="headcount")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["venue", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    status: int = args.func(args)
    return status
