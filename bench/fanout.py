"""Entry point: `python -m bench.fanout --help` (run from the repository root)."""

from __future__ import annotations

import sys

from bench.driver.cli import main

if __name__ == "__main__":
    sys.exit(main())
