"""`python -m cli ...` runs the `deployq` command."""

import sys

from cli.main import main

sys.exit(main())
