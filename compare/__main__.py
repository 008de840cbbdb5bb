"""`python -m compare` is the same as the `mnist-compare` command."""

import sys

from compare.cli import main

sys.exit(main())
