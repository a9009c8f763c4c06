"""Clustering Studio engine: segment stores and demand units without any UI.

The package is grouped by layer: ``io`` (read files and databases, validate, push
features down, write results back, export), ``prep`` (DFU features, preprocessing,
reduction), ``model`` (algorithms, k selection, density, metrics, stability),
``explain`` (profiles, tests, rules, labels), then ``merging``, ``config``, ``cli`` and
``pipeline``, which chains the stages for one run and is shared by every front end.
"""

from clustering.errors import UserInputError

__all__ = ["UserInputError"]
__version__ = "0.1.0"
