"""Entry point for ``python -m clustering``.

Once the command has returned, every file it wrote is closed, so the process ends at once
(``os._exit``) instead of tearing down a thousand imported modules one by one: that teardown
was a noticeable share of a small run (docs/benchmarks.md, "Figures behind the code").
"""

import logging
import os
import sys

from clustering.cli import main

code = main()
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
