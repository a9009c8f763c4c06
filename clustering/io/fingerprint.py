"""Content hashes: the same data and options give the same key, whatever their object identity.

Used as the cache key of every stage in the app and as the data fingerprint of tracked runs.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
from pydantic import BaseModel


def content_hash(*parts: object) -> str:
    """A short, stable hash of frames, config models and plain values."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(pd.util.hash_pandas_object(part, index=True).to_numpy().tobytes())
            digest.update(json.dumps([str(c) for c in part.columns]).encode())
        elif isinstance(part, BaseModel):
            digest.update(part.model_dump_json().encode())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def data_fingerprint(sheets: dict[str, pd.DataFrame]) -> str:
    """The fingerprint of a run's input tables, in sheet-name order."""
    return content_hash(*[sheets[name] for name in sorted(sheets)], sorted(sheets))
