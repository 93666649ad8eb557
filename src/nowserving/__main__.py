"""`python -m nowserving`: the `nowserving` command."""

import sys

from nowserving.cli import main

if __name__ == "__main__":  # not again in the server's spawned estimating process
    sys.exit(main())
