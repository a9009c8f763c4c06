"""Command line: ``python -m clustering demo|run|assign|why|report|runs|compare|approve|serve``
and the DFU framework's stage commands ``features|train|label|update`` (built from the
declared stages, ``pipeline.stages``).

Modules, one per command group: ``main`` (the entry and the exit codes), ``demo``, ``run``,
``tracked`` (assign, runs, compare, approve), ``readout`` (why, report), ``stages``, ``serve``,
and ``common`` (what they share). This module only re-exports.
"""

from clustering.cli.main import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, main, parser

__all__ = ["EXIT_INTERNAL_ERROR", "EXIT_USER_ERROR", "main", "parser"]
