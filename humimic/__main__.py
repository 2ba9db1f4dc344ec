"""``python -m humimic``: the same as the ``humimic`` console command."""

import sys

from humimic.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
