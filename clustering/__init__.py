"""Clustering Studio engine: segment stores and demand units without any UI.

The package is organised by stage: ``sources`` and ``validation`` (read and check
input), ``preprocessing``, ``models`` and ``kselection`` (cluster and choose k),
``merging``, ``profiling``, ``export``, ``config`` and ``cli``. ``pipeline`` ties
the stages together for one run.
"""

from clustering.errors import UserInputError

__all__ = ["UserInputError"]
__version__ = "0.1.0"
