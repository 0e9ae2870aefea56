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

# What core/hashing.hash_frame computes from a frame and its HashConfig, versioned: the hash
# stage folds this into its parameters hash, so a catalog hashed by an earlier version is
# hashed again rather than mixing old and new hashes. Bump it whenever the same frame and
# configuration could hash differently.
# 1: PDQ of the 160 px square and of its mirror; pHash of the 80 px square (Lanczos to 32).
# 2: the same PDQs, bit for bit; pHash of the 32 px luma square (pixel-area averaging).
# 3: PDQ of the square moved one column right (`centre_for_pdq`), its mirror from the DCT.
HASH_VERSION = 3

# What dedupe's searches look for, versioned: a catalog searched by an earlier version is
# searched again (its index and frame matches start over) rather than missing what the new
# paths find. 2: the recall paths of issue 15 (core/subimage views, core/lowtexture). 3: stills
# grabbed between samples, confirmed on the video decoded around them (core/grabs).
DEDUPE_SEARCH_VERSION = 3

# How relations, clusters and provenance are assembled from the same stored frame matches,
# versioned: outputs written by an earlier version are assembled again on the next run (the
# search is not redone). 1: issue 15's intervals (a playback rate fitted with the offset).
ASSEMBLY_VERSION = 1

# Bump when the standard signatures' computation changes: all signed again.
# 2: videos get TMK+PDQF (tmkpy) beside vPDQ.
SIGNATURE_VERSION = 2


def _digest(params: Any) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def frames_params_hash(cfg: FramesConfig) -> str:
    """Frames made with other parameters are made again; workers do not change results."""
    return _digest(cfg.model_dump(exclude={"workers", "decode_timeout_s", "decode_stall_s"}))


def hash_params_hash(cfg: HashConfig) -> str:
    """Frames hashed under another configuration or another HASH_VERSION are hashed again
    (their rows replaced, never mixed with new ones); workers and batch size change no
    result."""
    return _digest({**cfg.model_dump(exclude={"workers", "batch_frames"}), "version": HASH_VERSION})


def dedupe_params_hash(config: Config) -> str:
    """Everything that changes which frames are indexed or what matches: a change starts
    the index over. Offset tolerance, agreeing frames and the evidence rules only change the
    assembly, except weak_pdq_bits: it also picks the PDQ pairs of stills whose pixels the
    search checks (core/alignment.weak_still_pairs)."""
    return _digest(
        {
            "dedupe": config.dedupe.model_dump(
                exclude={
                    "offset_tolerance_s",
                    "min_agreeing_frames",
                    "short_run_frames",
                    "keypoint_min_coverage",
                    "workers",
                }
            ),
            "hash": hash_params_hash(config.hash),
            "frames": frames_params_hash(config.frames),
            "search": DEDUPE_SEARCH_VERSION,
        }
    )


def signatures_params_hash(cfg: SignaturesConfig) -> str:
    """Media signed under another vPDQ sampling or SIGNATURE_VERSION are signed again; list
    thresholds and workers change no stored signature."""
    return _digest(
        {"vpdq_seconds_per_hash": cfg.vpdq_seconds_per_hash, "version": SIGNATURE_VERSION}
    )
