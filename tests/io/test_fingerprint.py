"""Content hashes: stable, and a large frame hashed a slice at a time gives the digest of
hashing it whole."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from clustering.io import fingerprint
from clustering.io.fingerprint import content_hash


def test_a_frame_hashed_in_slices_has_the_digest_of_the_whole(monkeypatch):
    frame = pd.DataFrame(
        {"id": [f"S{i}" for i in range(1000)], "x": np.arange(1000.0), "t": pd.array(["a", "b"] * 500)}
    )
    whole = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    whole.update(json.dumps([str(c) for c in frame.columns]).encode())
    monkeypatch.setattr(fingerprint, "HASH_ROWS", 64)  # sixteen slices
    assert content_hash(frame) == whole.hexdigest()[:20]


def test_a_changed_cell_changes_the_hash():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    changed = frame.copy()
    changed.loc[2, "x"] = 4.0
    assert content_hash(frame) != content_hash(changed) and content_hash(frame) == content_hash(frame.copy())
