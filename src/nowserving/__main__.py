import sys

from nowserving.cli import main

sys.exit(main())
