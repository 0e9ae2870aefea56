"""Steps that assemble outputs from the whole catalog (contract files, clusters, counts) run
again only when their inputs moved.

A step's inputs key is the catalog generations of the tables it reads (every row written
bumps its table's counter, pipeline/io/catalog.py), the code version and whatever else it
reads (settings, analysts' files). When the key equals the one recorded with its outputs and
those files still hold the recorded bytes, the step is skipped: a run with nothing new costs
no assembly, and an output deleted or edited by hand is written again, with a warning that
says so (`verify` names it too: the SHA-256 of every output is sealed in the custody log).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.stages.context import RunContext

log = logging.getLogger("crosscheck")


def inputs_key(ctx: RunContext, tables: Iterable[str], extra: Mapping[str, Any]) -> str:
    generations = ctx.catalog.generations()
    payload = {
        "tables": {table: generations[table] for table in sorted(tables)},
        "code_version": ctx.version,
        "extra": extra,
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def up_to_date(ctx: RunContext, step: str, key: str) -> bool:
    """The step's outputs were made from exactly these inputs and are still intact."""
    state = ctx.catalog.derived_state(step)
    if state is None:
        return False
    intact = True
    for name, sha256 in state.outputs.items():
        path = ctx.layout.contract_file(name)
        try:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            log.warning("%s: missing since crosscheck wrote it; written again", name)
            intact = False
            continue
        if actual != sha256:
            log.warning(
                "%s: edited since crosscheck wrote it (SHA-256 %s, written %s); written again",
                name,
                actual[:16],
                sha256[:16],
            )
            intact = False
    return intact and state.inputs_key == key


def record(ctx: RunContext, step: str, key: str, outputs: Mapping[str, str]) -> None:
    """Call inside the transaction that commits the step's outputs."""
    ctx.catalog.put_derived_state(step, key, dict(outputs))
