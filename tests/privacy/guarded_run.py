"""Run `headcount` in this process under the enforcing guard, installed the way the sensor
must install it: after the imports and the detector runtime (LiteRT loads its library
through ctypes when imported), before the camera opens.

Usage: python guarded_run.py JOURNAL_DIR BROKER_HOST BROKER_PORT -- headcount-args...
Exit status: the CLI's, or 70 if the guard refused anything.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import edge.bootstrap
import edge.cli
import edge.mqtt.client
import edge.sim.detector
import edge.sources
from edge.detect.runtime import interpreter_class
from edge.privacy.guard import install_guard


def main() -> int:
    journal, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    args = sys.argv[sys.argv.index("--") + 1 :]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    interpreter_class()
    guard = install_guard("enforce", journal_dir=Path(journal), broker=(host, port))
    status = edge.cli.main(args)
    if guard.violations:
        print(f"guard refused {guard.violations} operations", file=sys.stderr)
        return 70
    return status


if __name__ == "__main__":
    sys.exit(main())
