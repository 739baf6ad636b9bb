"""`python -m mmsy_dataset.cli ...` (and `accelerate launch -m mmsy_dataset.cli ...`): the `mmsy` command."""

import sys

from mmsy_dataset.cli.main import main

sys.exit(main())
