"""`python -m cli.action`: what each step of `action.yml` runs."""

import sys

from cli.action.main import main

sys.exit(main())
