"""The one home of the stages' parameter hashes: what a stored result was made with.

A frame sampled, hashed or searched under other parameters is done again, so each hash
covers exactly the settings that change a result (never workers, batch sizes or
timeouts). Dedupe's covers hash's and frames' too: new hashes or frames start its index
over. Each is 16 hex digits of a SHA-256 over the sorted JSON of the settings.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pipeline.config import Config, FramesConfig, HashConfig, SignaturesConfig

SIGNATURE_VERSION = 1  # bump when the standard signatures' computation changes: all signed again


def _digest(params: Any) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def frames_params_hash(cfg: FramesConfig) -> str:
    """Frames made with other parameters are made again; workers do not change results."""
    return _digest(cfg.model_dump(exclude={"workers", "decode_timeout_s", "decode_stall_s"}))


def hash_params_hash(cfg: HashConfig) -> str:
    """Frames hashed under another configuration or another HASH_VERSION are hashed again
    (their rows replaced, never mixed with new ones); workers and batch size change no
    result."""
    from pipeline.core.hashing import HASH_VERSION  # here: hashing imports OpenCV, frames need not

    return _digest({**cfg.model_dump(exclude={"workers", "batch_frames"}), "version": HASH_VERSION})


def dedupe_params_hash(config: Config) -> str:
    """Everything that changes which frames are indexed or what matches: a change starts
    the index over. Offset tolerance and agreeing frames only change the assembly."""
    return _digest(
        {
            "dedupe": config.dedupe.model_dump(
                exclude={"offset_tolerance_s", "min_agreeing_frames"}
            ),
            "hash": hash_params_hash(config.hash),
            "frames": frames_params_hash(config.frames),
        }
    )


def signatures_params_hash(cfg: SignaturesConfig) -> str:
    """Media signed under another vPDQ sampling or SIGNATURE_VERSION are signed again; list
    thresholds and workers change no stored signature."""
    return _digest(
        {"vpdq_seconds_per_hash": cfg.vpdq_seconds_per_hash, "version": SIGNATURE_VERSION}
    )
