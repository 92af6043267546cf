"""The cache folder and atomic file writes.

Everything ``tricks_lab`` writes (decoded datasets, cached runs, results
records) goes through :func:`atomic_write_bytes`: the bytes land in a temporary
file in the destination folder, are flushed to disk, and replace the target
with one ``os.replace``, so a reader sees the old file or the new one, never a
half-written one, even if the process is killed mid-write.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_save_npy", "atomic_write_bytes", "atomic_write_json", "CACHE_ENV", "cache_root"]

CACHE_ENV = "TRICKS_LAB_CACHE"


def cache_root() -> Path:
    """The cache folder: ``$TRICKS_LAB_CACHE`` if set, else ``~/.cache/tricks_lab``."""
    configured = os.environ.get(CACHE_ENV)
    root = Path(configured).expanduser() if configured else Path.home() / ".cache" / "tricks_lab"
    return root


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def atomic_save_npy(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Save ``array`` in .npy format, atomically."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return atomic_write_bytes(path, buffer.getvalue())
