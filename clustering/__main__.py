"""Entry point for ``python -m clustering``."""

from clustering.cli import main

raise SystemExit(main())
