"""`python -m server PORT MODULE:APP`: see server/cli.py and `python -m server --help`."""

import sys

from server.cli import main

sys.exit(main())
