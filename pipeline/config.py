"""Configuration: parsed once, validated, frozen.

`configs/default.yaml` documents every tunable with its source; the same defaults live here
so that a missing file still means a known configuration. A per-incident file
`configs/incidents/<incident>.yaml` overrides the defaults for that incident only. Unknown
keys and out-of-range values are errors that name the file and the key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """A configuration file is missing, malformed or holds an invalid value."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestConfig(_Section):
    max_image_pixels: int = Field(89_478_485, gt=0)
    read_chunk_bytes: int = Field(1 << 20, ge=4096)
    probe_timeout_s: float = Field(60.0, gt=0)
    workers: int = Field(0, ge=0)


class FramesConfig(_Section):
    interval_s: float = Field(1.0, gt=0)
    scene_threshold: float = Field(0.3, gt=0, lt=1)
    keyframes_only: bool = False
    thumb_size_px: int = Field(320, ge=32, le=2048)
    thumb_jpeg_quality: int = Field(85, ge=10, le=100)
    decode_timeout_s: float = Field(600.0, gt=0)
    decode_stall_s: float = Field(120.0, gt=0)
    workers: int = Field(0, ge=0)


class HashConfig(_Section):
    pdq_quality_min: int = Field(50, ge=0, le=100)
    uniform_std_max: float = Field(6.0, ge=0)
    border_tolerance: int = Field(16, ge=0, le=255)
    border_max_fraction: float = Field(0.45, gt=0, lt=0.5)
    workers: int = Field(0, ge=0)
    batch_frames: int = Field(256, ge=1)


class DedupeConfig(_Section):
    pdq_max_distance: int = Field(31, ge=0, le=128)
    index: Literal["mih", "brute_force", "faiss_multihash", "faiss_flat"] = "mih"
    offset_tolerance_s: float = Field(1.5, gt=0)
    min_agreeing_frames: int = Field(2, ge=1)
    video_anchor_max_distance: int = Field(64, ge=0, le=128)
    keypoint_votes: int = Field(10, ge=1)
    descriptor_max_l2: float = Field(200.0, gt=0)
    keypoint_min_inliers: int = Field(12, ge=4)
    keypoint_min_ncc: float = Field(0.9, gt=0, le=1)
    keypoint_block_min_ncc: float = Field(0.5, ge=0, le=1)
    keypoint_min_agreement: float = Field(0.9, ge=0, le=1)
    keypoint_min_coverage: float = Field(0.15, ge=0, le=1)
    weak_pdq_bits: int = Field(28, ge=0, le=128)
    short_run_frames: int = Field(3, ge=0)
    workers: int = Field(1, ge=0)


class CountConfig(_Section):
    detector: Literal["centerface", "opencv", "yunet", "none"] = "centerface"
    onnx_model: str = ""
    hog_min_score: float = Field(1.0, ge=0)
    haar_min_neighbors: int = Field(8, ge=1)
    face_width_px: int = Field(320, ge=32, le=4096)
    face_min_score: float = Field(0.5, gt=0, lt=1)
    person_width_px: int = Field(1152, ge=0, le=4096)
    person_min_score: float = Field(2.0, ge=0)
    faces: bool = True
    face_min_px: int = Field(32, ge=8)
    face_same_max: float = Field(0.5, gt=0)
    face_distinct_min: float = Field(0.6, gt=0)
    face_shape_model: str = ""
    face_descriptor_model: str = ""

    @model_validator(mode="after")
    def _face_gap(self) -> CountConfig:
        if self.face_same_max >= self.face_distinct_min:
            raise ValueError(
                "count.face_same_max must be below count.face_distinct_min: pairs between "
                "them are undecided (docs/count.md, Faces)"
            )
        return self

    solver_time_limit_s: float = Field(300.0, gt=0)
    workers: int = Field(1, ge=0)
    track_max_gap_frames: int = Field(1, ge=0)
    track_max_shift: float = Field(0.6, gt=0)
    track_max_size_ratio: float = Field(2.0, ge=1)


class SignaturesConfig(_Section):
    vpdq_seconds_per_hash: float = Field(1.0, ge=0)
    pdq_max_distance: int = Field(31, ge=0, le=128)
    pdq_quality_min: int = Field(50, ge=0, le=100)
    vpdq_query_match_percent: float = Field(80.0, ge=0, le=100)
    vpdq_compared_match_percent: float = Field(0.0, ge=0, le=100)
    lists: list[str] = Field(default_factory=list)
    workers: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _lists_have_distinct_names(self) -> SignaturesConfig:
        """A list is known by its file name (list_matches.csv, checked_lists): two with the
        same name would overwrite each other's matches."""
        names = [Path(entry).name for entry in self.lists]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(
                "signatures.lists: hash lists are known by their file name, and these appear "
                f"more than once: {', '.join(duplicated)} (rename one of the files)"
            )
        return self


class RunConfig(_Section):
    max_failure_ratio: float = Field(0.5, ge=0, le=1)
    executor: Literal["local", "dask"] = "local"
    scheduler: str = ""

    @model_validator(mode="after")
    def _dask_needs_a_scheduler(self) -> RunConfig:
        if self.executor == "dask" and "://" not in self.scheduler:
            raise ValueError(
                "executor dask needs scheduler, the address of a running Dask scheduler such "
                "as tcp://10.0.0.5:8786 (docs/scale-out.md); on one machine use executor local"
            )
        return self


class Config(_Section):
    ingest: IngestConfig = IngestConfig()
    frames: FramesConfig = FramesConfig()
    hash: HashConfig = HashConfig()
    dedupe: DedupeConfig = DedupeConfig()
    count: CountConfig = CountConfig()
    signatures: SignaturesConfig = SignaturesConfig()
    run: RunConfig = RunConfig()


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(loaded).__name__}")
    return loaded


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(raw: dict[str, Any], origin: str) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{origin}: {problems}") from exc


# What an incidents/<incident>.yaml may set: the count of one incident (detector and its
# thresholds, solver limits) is the only work done per incident.
PER_INCIDENT_SECTIONS = ("count",)


class Settings(BaseModel):
    """The effective configuration of a run: the defaults and each incident's overrides."""

    model_config = ConfigDict(frozen=True)

    default: Config
    incidents: dict[str, Config] = {}

    def for_incident(self, incident: str) -> Config:
        """The configuration that counts this incident: default.yaml with the incident's
        count overrides (PER_INCIDENT_SECTIONS), or default.yaml alone."""
        return self.incidents.get(incident, self.default)

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the effective configuration, recorded per run."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def with_executor(settings: Settings, executor: str | None, scheduler: str | None) -> Settings:
    """The command line's --executor and --scheduler over the files' `run` section."""
    update = {
        key: value
        for key, value in (("executor", executor), ("scheduler", scheduler))
        if value is not None
    }
    if not update:
        return settings
    raw = settings.default.model_dump()
    raw["run"].update(update)
    return settings.model_copy(update={"default": _validate(raw, "command line")})


def load_settings(config_dir: Path) -> Settings:
    """Read `default.yaml` and `incidents/*.yaml` under config_dir; either may be absent."""
    default_path = config_dir / "default.yaml"
    base = _read_yaml(default_path) if default_path.is_file() else {}
    default = _validate(base, str(default_path))
    incidents: dict[str, Config] = {}
    incident_dir = config_dir / "incidents"
    if incident_dir.is_dir():
        for path in sorted(incident_dir.glob("*.yaml")):
            override = _read_yaml(path)
            shared = sorted(set(override) - set(PER_INCIDENT_SECTIONS))
            if shared:
                raise ConfigError(
                    f"{path}: {', '.join(shared)} cannot differ per incident (frames, hashes and "
                    "the dedupe index are shared by every incident, and one run serves them "
                    f"all): set it in default.yaml; per incident only "
                    f"{', '.join(PER_INCIDENT_SECTIONS)}"
                )
            incidents[path.stem] = _validate(_merge(base, override), str(path))
    return Settings(default=default, incidents=incidents)
