"""Content hashes: the same data and options give the same key, whatever their object identity.

Used as the cache key of every stage in the app and as the data fingerprint of tracked runs.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
from pydantic import BaseModel

HASH_ROWS = 65_536  # rows hashed at a time


def content_hash(*parts: object) -> str:
    """A short, stable hash of frames, config models and plain values. A frame is hashed
    HASH_ROWS rows at a time (the same digest as all at once): hashing text makes a Python
    string of every cell, which for a 100 MB upload at once was four times the file."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            for start in range(0, len(part), HASH_ROWS):
                rows = part.iloc[start : start + HASH_ROWS]
                digest.update(pd.util.hash_pandas_object(rows, index=True).to_numpy().tobytes())
            digest.update(json.dumps([str(c) for c in part.columns]).encode())
        elif isinstance(part, BaseModel):
            digest.update(part.model_dump_json().encode())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def data_fingerprint(sheets: dict[str, pd.DataFrame]) -> str:
    """The fingerprint of a run's input tables, in sheet-name order."""
    return content_hash(*[sheets[name] for name in sorted(sheets)], sorted(sheets))
