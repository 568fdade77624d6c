import sys

from helpers.execution.cli import main

sys.exit(main())
