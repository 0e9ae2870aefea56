"""The Python API: the command line's verbs for an analyst's notebook.

    from pipeline import api

    api.run("data")                          # = crosscheck --data-dir data run
    results = api.read_results("data")       # contract files as typed records
    counts = api.read_table("data", "counts")  # ... or one of them as a pandas DataFrame
    api.find_duplicates(["a.jpg", "b.jpg"])  # which of these files show the same content

Everything goes through the same code as the command line (run lock, run record, custody
log, summary), so a notebook and the scheduled job never disagree. Nothing under a data
dir's raw/ is ever written.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.core.relations import MediaMatch
from pipeline.io.contract import CONTRACT_FILES, read_contract_csv, read_contract_frame
from pipeline.layout import DataLayout

PathLike = str | Path
VERBS = ("run", "ingest", "frames", "hash", "dedupe", "count", "report", "verify")


def run(
    data_dir: PathLike,
    verb: str = "run",
    *,
    config_dir: PathLike | None = None,
    full: bool = False,
) -> int:
    """Run a stage (or `run`: every stage) on a data dir laid out like data/ (DESIGN.md);
    returns the command line's exit status (0 ok, 1 failures, 3 nothing new, README)."""
    from pipeline.cli import main  # the command line's orchestration, imported when used

    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb!r}: one of {', '.join(VERBS)}")
    options = ["--data-dir", str(data_dir), "--quiet"]
    if config_dir is not None:
        options += ["--config-dir", str(config_dir)]
    return main([*options, verb, *(["--full"] if full else [])])


@dataclass(frozen=True)
class Media:
    """One row of media.csv: a distinct content and where it was first seen."""

    media_id: str
    kind: str
    width: int | None
    height: int | None
    duration_s: float | None
    first_seen: str


@dataclass(frozen=True)
class Observation:
    """One row of observations.csv: a file under raw/ and the media it holds."""

    media_id: str
    incident: str
    source: str
    path: str
    posted_at: str
    url: str


@dataclass(frozen=True)
class IncidentCount:
    """One row of counts.csv."""

    incident: str
    minimum_count: int
    clique_bound: int
    upper_bound: int
    scenes: int
    reviewed: bool
    explanation: str


@dataclass(frozen=True)
class Results:
    """What a run wrote under processed/, as typed records."""

    media: tuple[Media, ...]
    observations: tuple[Observation, ...]
    matches: tuple[MediaMatch, ...]
    clusters: dict[str, str]  # media_id -> cluster_id
    counts: tuple[IncidentCount, ...]


def _int(text: str) -> int | None:
    return int(text) if text else None


def _float(text: str) -> float | None:
    return float(text) if text else None


def read_results(data_dir: PathLike) -> Results:
    """The contract files of a data dir as typed records (empty where a stage has not run)."""
    processed = DataLayout(Path(data_dir)).processed
    rows = {name: read_contract_csv(processed / f"{name}.csv") for name in _names()}
    return Results(
        tuple(
            Media(
                r["media_id"],
                r["kind"],
                _int(r["width"]),
                _int(r["height"]),
                _float(r["duration_s"]),
                r["first_seen"],
            )
            for r in rows["media"]
        ),
        tuple(
            Observation(
                r["media_id"], r["incident"], r["source"], r["path"], r["posted_at"], r["url"]
            )
            for r in rows["observations"]
        ),
        tuple(_match(r) for r in rows["matches"]),
        {r["media_id"]: r["cluster_id"] for r in rows["clusters"]},
        tuple(
            IncidentCount(
                r["incident"],
                int(r["minimum_count"]),
                int(r["clique_bound"]),
                int(r["upper_bound"]),
                int(r["scenes"]),
                r["reviewed"] == "true",
                r["explanation"],
            )
            for r in rows["counts"]
        ),
    )


def _match(row: dict[str, str]) -> MediaMatch:
    return MediaMatch(
        row["media_a"],
        row["media_b"],
        row["relation"],  # type: ignore[arg-type]  # written from a Relation
        int(row["distance"]),
        _float(row["a_start_s"]),
        _float(row["a_end_s"]),
        _float(row["b_start_s"]),
        _float(row["b_end_s"]),
        int(row["frames_agreeing"]),
        row["method"],
        row.get("reason", ""),
    )


def _names() -> list[str]:
    return [name.removesuffix(".csv") for name in CONTRACT_FILES]


def read_table(data_dir: PathLike, name: str) -> pd.DataFrame:
    """One contract file (`matches`, `counts`, ... or `matches.csv`) as a DataFrame of
    strings; FileNotFoundError when its stage has not run."""
    stem = name.removesuffix(".csv")
    if stem not in _names():
        raise ValueError(f"unknown contract file {name!r}: one of {', '.join(_names())}")
    return read_contract_frame(DataLayout(Path(data_dir)).processed / f"{stem}.csv")


@dataclass(frozen=True)
class Duplicate:
    """Two of the given files that show the same content, and how (matches.csv's relation,
    distance in PDQ bits, and the matched times in seconds for videos)."""

    path_a: Path
    path_b: Path
    relation: str
    distance: int
    a_start_s: float | None = None
    a_end_s: float | None = None
    b_start_s: float | None = None
    b_end_s: float | None = None


def find_duplicates(
    paths: Iterable[PathLike], *, config_dir: PathLike | None = None
) -> list[Duplicate]:
    """Which of these files show the same content: they are copied into a scratch data dir,
    run through ingest, frames, hash and dedupe, and their relations mapped back to the
    given paths (byte-identical files are one media: `exact`, distance 0). The scratch dir
    is removed afterwards; the files themselves are only read."""
    given = [Path(p) for p in paths]
    scratch = Path(tempfile.mkdtemp(prefix="crosscheck-api-"))
    try:
        layout = DataLayout(scratch / "data")
        names = _copy_in(given, layout.raw / "files" / "given")
        for verb in ("ingest", "frames", "hash", "dedupe"):
            if run(layout.data_dir, verb, config_dir=config_dir) not in (0, 3):
                raise RuntimeError(f"find_duplicates: {verb} failed (see the messages above)")
        results = read_results(layout.data_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    holders: dict[str, list[Path]] = {}
    for obs in results.observations:
        holders.setdefault(obs.media_id, []).append(names[obs.path])
    found = [
        Duplicate(a, b, "exact", 0)
        for group in holders.values()
        for i, a in enumerate(group)
        for b in group[i + 1 :]
    ]
    for m in results.matches:
        if not m.same_content:  # a candidate or same_scene proposal is not a duplicate
            continue
        for a in holders.get(m.media_a, []):
            for b in holders.get(m.media_b, []):
                found.append(
                    Duplicate(
                        a, b, m.relation, m.distance, m.a_start_s, m.a_end_s, m.b_start_s, m.b_end_s
                    )
                )
    return found


def _copy_in(paths: Sequence[Path], folder: Path) -> dict[str, Path]:
    """Copy each file under a unique name; returns observation path -> the given path."""
    folder.mkdir(parents=True)
    names: dict[str, Path] = {}
    for i, path in enumerate(paths):
        name = f"{i:06d}-{path.name}"
        shutil.copyfile(path, folder / name)
        names[f"files/given/{name}"] = path
    return names
