"""Entry point for ``python -m clustering``.

Once the command has returned, every file it wrote is closed, so the process ends at once
(``os._exit``) instead of tearing down a thousand imported modules one by one: that teardown
took 0.35 s, a seventh of a 10,000-store run.
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
