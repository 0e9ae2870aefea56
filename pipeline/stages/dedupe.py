"""Stage `dedupe`: hashes (catalog) -> frame matches -> matches.csv, clusters.csv,
cluster_provenance.csv.

Fourth stage of the DAG, after hash. Every matchable frame (PDQ quality above the minimum, not
uniform) goes into a Hamming-space index kept between runs; only frames new since the last
run are searched (with their mirror-image hashes too), so an upload costs its own queries.
Frame matches are stored; media relations, clusters and provenance are then assembled from
all stored matches (cheap next to the search) and written as contract files. A match a
reviewer rejected (or split apart) never links its two media again.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import DedupeConfig
from pipeline.core import hamming
from pipeline.core.clusters import MemberFacts, cluster_media, cluster_provenance
from pipeline.core.hashing import hamming as hamming_bits
from pipeline.core.keypoints import (
    Features,
    VerifyRules,
    candidate_pairs,
    sift_features,
    verify,
    verify_aligned,
)
from pipeline.core.relations import (
    FrameMatch,
    MediaInfo,
    MediaMatch,
    OverlapRules,
    infer_transitive,
    media_matches,
)
from pipeline.core.review import fold
from pipeline.io import contract, thumbs
from pipeline.io.atomic import write_bytes_atomic
from pipeline.stages import derived
from pipeline.stages import frames as frames_stage
from pipeline.stages import hash as hash_stage
from pipeline.stages.context import RunContext

STAGE = "dedupe"
FrameKey = tuple[str, int]
# media_a, frame_a, media_b, frame_b, distance, method
MatchRow = tuple[str, int, str, int, int, str]


@dataclass
class _Search:
    """What one run's searches found, held until their single commit."""

    frames: int = 0
    new_media: set[str] = field(default_factory=set)
    index_entries: list[tuple[int, str, int, str]] = field(default_factory=list)
    index_files: dict[Path, bytes] = field(default_factory=dict)
    matches: list[MatchRow] = field(default_factory=list)
    feature_frames: list[FrameKey] = field(default_factory=list)


def params_hash(ctx: RunContext) -> str:
    """Everything that changes which frames are indexed or what matches: a change starts over."""
    cfg = ctx.settings.default
    params = {
        "dedupe": cfg.dedupe.model_dump(exclude={"offset_tolerance_s", "min_agreeing_frames"}),
        "hash": hash_stage.params_hash(cfg.hash),
        "frames": frames_stage.params_hash(cfg.frames),
    }
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


# What the searches and the assembly read: when none of it moved since the outputs were
# written, there is no new frame to search and nothing to assemble.
INPUTS = (
    "media",
    "observations",
    "frame_state",
    "frames",
    "hashes",
    "features",
    "index_entries",
    "frame_matches",
    "review_decisions",
)


def _inputs_key(ctx: RunContext, params: str) -> str:
    config = ctx.settings.default
    extra = {
        "params": params,
        "dedupe": config.dedupe.model_dump(),
        "pdq_quality_min": config.hash.pdq_quality_min,
    }
    return derived.inputs_key(ctx, INPUTS, extra)


def run_dedupe(ctx: RunContext) -> dict[str, int]:
    cfg = ctx.settings.default.dedupe
    params = params_hash(ctx)
    if derived.up_to_date(ctx, STAGE, _inputs_key(ctx, params)):
        counts = {"frames_searched": 0, "feature_frames_searched": 0, "new_matches": 0}
        ctx.counts[STAGE] = counts
        return counts
    rows = {(row["media_id"], row["frame_index"]): row for row in ctx.catalog.hash_rows()}
    observed = {m.media_id: m for m in ctx.catalog.observed_media()}
    quality_min = ctx.settings.default.hash.pdq_quality_min
    # PDQ matches need PDQ quality; keypoint-confirmed ones only a picture that is not blank.
    usable = {key for key, row in rows.items() if key[0] in observed and not row["uniform"]}
    matchable = {
        key
        for key, row in rows.items()
        if key[0] in observed and row["pdq_quality"] >= quality_min and not row["uniform"]
    }

    # The three searches commit together, the index files written just before: a run killed
    # before the commit redoes them all. Committed one by one, a rerun found the first search
    # done and skipped the later ones' work on the media it had searched (and never wrote the
    # index files again).
    search = _search_new_frames(ctx, cfg, params, rows, matchable)
    media = _media_infos(ctx, observed)
    searched_features, more_new = _search_features(ctx, params, usable, search)
    extended = _extend_alignments(ctx, rows, search.new_media | more_new, search)
    with ctx.catalog.transaction():
        for path, data in search.index_files.items():
            write_bytes_atomic(path, data, root=ctx.layout.processed)
        ctx.catalog.add_index_entries(search.index_entries)
        ctx.catalog.add_frame_matches(search.matches)
        ctx.catalog.mark_features_searched(search.feature_frames, params)
    searched = search.frames
    frame_matches = [
        FrameMatch(a, fa, rows[(a, fa)]["pts_s"], b, fb, rows[(b, fb)]["pts_s"], d, method)
        for a, fa, b, fb, d, method in ctx.catalog.frame_matches()
        if {(a, fa), (b, fb)} <= (matchable if method == "pdq" else usable)
    ]
    rules = OverlapRules(cfg.offset_tolerance_s, cfg.min_agreeing_frames)
    review = fold(ctx.catalog.decisions())
    direct = [
        m
        for m in _with_exact(ctx, media_matches(frame_matches, media, rules))
        if not review.is_rejected(m.media_a, m.media_b)
    ]
    matches = sorted(
        direct
        + [
            m
            for m in infer_transitive(direct, media)
            if not review.is_rejected(m.media_a, m.media_b)
        ],
        key=lambda m: (m.media_a, m.media_b, m.a_start_s or 0.0),
    )
    clusters = cluster_media(sorted(observed), direct, media)
    with ctx.catalog.transaction():
        before = Counter(ctx.catalog.media_matches())
        if before != Counter(matches):  # unchanged relations: count's inputs stay unchanged
            ctx.catalog.replace_media_matches(matches)
        outputs = _write_contract(ctx, matches, clusters, observed)
        counts = {
            "frames_searched": searched,
            "feature_frames_searched": searched_features,
            "frames_confirmed_by_alignment": extended,
            "frame_matches": len(frame_matches),
            "matches": len(matches),
            "new_matches": len(
                {(m.media_a, m.media_b, m.relation) for m in matches}
                - {(m.media_a, m.media_b, m.relation) for m in before}
            ),
            "clusters": len(set(clusters.values())),
            "media": len(observed),
        }
        ctx.custody(
            STAGE,
            "dedupe_run",
            params={"config": cfg.model_dump(), "params": params},
            outputs=outputs,
            counts=counts,
        )
        derived.record(ctx, STAGE, _inputs_key(ctx, params), outputs)
    ctx.counts[STAGE] = counts
    return counts


def _search_new_frames(
    ctx: RunContext,
    cfg: DedupeConfig,
    params: str,
    rows: dict[FrameKey, Any],
    matchable: set[FrameKey],
) -> _Search:
    """Add frames not yet indexed and search them against the whole index; returns the new
    index entries, the index files to write, the matches found and the media searched.

    Two indexes (hashes, and hashes of the mirror images) and three queries per new frame
    (its hash against both, its mirror's hash against the first) find every pair whose
    distance in any of the three pairings is within the threshold, whichever of the two
    frames came first, so incremental runs find exactly what a full run finds.
    """
    entries = ctx.catalog.index_entries()
    if any(entry[3] != params for entry in entries):
        with ctx.catalog.transaction():
            ctx.catalog.reset_index()
        entries = []
    folder = ctx.layout.processed / "index"
    paths = {column: folder / f"{column}.{cfg.index}.bin" for column in ("pdq", "pdq_mirror")}
    loaded = {
        column: _load_index(cfg, path, entries, rows, column) for column, path in paths.items()
    }
    indexes = {column: index for column, (index, _) in loaded.items()}
    search = _Search(
        index_files={
            paths[column]: index.to_bytes()
            for column, (index, from_file) in loaded.items()
            if not from_file  # rebuilt: the file is missing, or ahead of a rolled-back catalog
        }
    )
    known = {(media_id, frame) for _, media_id, frame, _ in entries}
    new = sorted(key for key in matchable if key not in known)
    if not new:
        return search
    next_id = max((entry[0] for entry in entries), default=-1) + 1
    new_entries = [(next_id + i, key[0], key[1], params) for i, key in enumerate(new)]
    by_id: dict[int, FrameKey] = {e[0]: (e[1], e[2]) for e in entries}
    by_id.update({e[0]: (e[1], e[2]) for e in new_entries})
    ids = np.array([e[0] for e in new_entries], dtype=np.int64)
    for column, index in indexes.items():
        index.add(ids, _codes(rows, new, column))
    pairs: set[tuple[FrameKey, FrameKey]] = set()
    for query_column, index_column in (
        ("pdq", "pdq"),
        ("pdq_mirror", "pdq"),
        ("pdq", "pdq_mirror"),
    ):
        result = indexes[index_column].search(_codes(rows, new, query_column), cfg.pdq_max_distance)
        for query, hit in zip(result.query, result.match_id, strict=True):
            this, other = new[int(query)], by_id[int(hit)]
            if this[0] != other[0]:
                pairs.add((this, other) if this < other else (other, this))
    found = [
        (a[0], a[1], b[0], b[1], frame_distance(rows[a], rows[b]), "pdq") for a, b in sorted(pairs)
    ]
    found += _video_anchors(ctx, cfg, rows, new, by_id, indexes["pdq"], pairs)
    search.frames, search.new_media = len(new), {key[0] for key in new}
    search.index_entries, search.matches = new_entries, found
    search.index_files = {paths[column]: index.to_bytes() for column, index in indexes.items()}
    return search


def _video_anchors(
    ctx: RunContext,
    cfg: DedupeConfig,
    rows: dict[FrameKey, Any],
    new: list[FrameKey],
    by_id: dict[int, FrameKey],
    index: hamming.HammingIndex,
    pairs: set[tuple[FrameKey, FrameKey]],
) -> list[tuple[str, int, str, int, int, str]]:
    """One anchor per pair of media, at least one of them a video, that PDQ alone did not
    link: the closest frame pair within `video_anchor_max_distance`, kept only if keypoints
    and pixels confirm it.

    Two copies of a fast pan are sampled a fraction of a second apart, which PDQ reads as
    40-80 bits; the anchor lets the alignment step follow the pair's time offset. A still
    grabbed from a video mostly shows a moment between two sampled frames, 30-60 bits from
    both (make eval's grabs), and its shot's first frame, the only one with stored
    keypoints, may show another part of the shot: the anchor links it. Two stills need no
    anchor: both carry keypoints for the crop path.
    """
    if not new or cfg.video_anchor_max_distance <= cfg.pdq_max_distance:
        return []
    linked = {(a[0], b[0]) for a, b in pairs}
    best: dict[tuple[str, str], tuple[int, FrameKey, FrameKey]] = {}
    # 64 bits is far beyond the multi-index's exact radius (15), where it finds only pairs
    # sharing a whole 16-bit block (about a third at 60 bits): search exhaustively instead.
    exact = hamming.exact_for(index, cfg.video_anchor_max_distance)
    result = exact.search(_codes(rows, new, "pdq"), cfg.video_anchor_max_distance)
    for query, hit, distance in zip(result.query, result.match_id, result.distance, strict=True):
        this, other = new[int(query)], by_id[int(hit)]
        if this[0] == other[0] or (rows[this]["pts_s"] is None and rows[other]["pts_s"] is None):
            continue
        a, b = (this, other) if this < other else (other, this)
        if (a[0], b[0]) in linked:
            continue
        candidate = (int(distance), a, b)
        best[(a[0], b[0])] = min(best.get((a[0], b[0]), candidate), candidate)
    if not best:
        return []
    thumbs_by_key = {
        (f.media_id, f.frame.frame_index): f.thumb_sha256 for f in ctx.catalog.frames()
    }
    rules = VerifyRules(cfg.keypoint_min_inliers, cfg.keypoint_min_ncc)
    anchors = []
    for _, a, b in sorted(best.values()):
        pic_a = thumbs.load(ctx.layout.thumbs, thumbs_by_key[a])
        pic_b = thumbs.load(ctx.layout.thumbs, thumbs_by_key[b])
        feat_a, feat_b = sift_features(pic_a), sift_features(pic_b)
        same = verify(pic_a, feat_a, pic_b, feat_b, rules).confirmed
        if not same and min(len(feat_a), len(feat_b)) < PLAIN_FRAME_KEYPOINTS:
            same = verify_aligned(pic_a, pic_b, rules).confirmed  # plain frames: by intensity
        if same:
            anchors.append((a[0], a[1], b[0], b[1], frame_distance(rows[a], rows[b]), "keypoints"))
    return anchors


def frame_distance(a: Any, b: Any) -> int:
    """Mirror-invariant PDQ distance, symmetric in a and b."""
    return min(
        hamming_bits(a["pdq"], b["pdq"]),
        hamming_bits(a["pdq"], b["pdq_mirror"]),
        hamming_bits(a["pdq_mirror"], b["pdq"]),
    )


def _search_features(
    ctx: RunContext, params: str, matchable: set[FrameKey], search: _Search
) -> tuple[int, set[str]]:
    """The crop path: frames whose local features were not searched yet vote, descriptor by
    descriptor, for frames of other media; candidates not already linked by PDQ are confirmed
    by homography and pixel agreement (pipeline/core/keypoints.py)."""
    cfg = ctx.settings.default.dedupe
    rows = [r for r in ctx.catalog.feature_rows() if (r["media_id"], r["frame_index"]) in matchable]
    new = [i for i, r in enumerate(rows) if r["searched_params"] != params]
    if not new:
        return 0, set[str]()
    features = [Features.from_bytes(r["points"], r["descriptors"]) for r in rows]
    keys = [(str(r["media_id"]), int(r["frame_index"])) for r in rows]
    votes = candidate_pairs(features, keys, new, cfg.keypoint_votes, cfg.descriptor_max_l2)
    linked = {(a, b) for a, _, b, _, _, _ in ctx.catalog.frame_matches() + search.matches}
    thumbs_by_key = {
        (f.media_id, f.frame.frame_index): f.thumb_sha256 for f in ctx.catalog.frames()
    }
    hashes = {(r["media_id"], r["frame_index"]): r for r in ctx.catalog.hash_rows()}
    shots: dict[tuple[str, int], list[FrameKey]] = defaultdict(list)
    for key, row in hashes.items():
        shots[(key[0], row["shot_id"])].append(key)
    rules = VerifyRules(cfg.keypoint_min_inliers, cfg.keypoint_min_ncc)
    confirmed: list[MatchRow] = []
    for i, j in votes:
        (ma, fa), (mb, fb) = sorted((keys[i], keys[j]))
        if (ma, mb) in linked:
            continue
        pic_a = thumbs.load(ctx.layout.thumbs, thumbs_by_key[(ma, fa)])
        pic_b = thumbs.load(ctx.layout.thumbs, thumbs_by_key[(mb, fb)])
        fa_feat, fb_feat = (
            (features[i], features[j]) if keys[i] == (ma, fa) else (features[j], features[i])
        )
        if verify(pic_a, fa_feat, pic_b, fb_feat, rules).confirmed:
            fa, fb = _closest_in_shot(hashes, shots, (ma, fa), (mb, fb))
            distance = frame_distance(hashes[(ma, fa)], hashes[(mb, fb)])
            confirmed.append((ma, fa, mb, fb, distance, "keypoints"))
    search.matches += confirmed
    search.feature_frames = [keys[i] for i in new]
    return len(new), {keys[i][0] for i in new}


PLAIN_FRAME_KEYPOINTS = 30  # fewer keypoints than this: check by intensity alignment instead
ALIGN_WINDOW_S = 0.6  # a frame of the other video this close to the anchor's offset is its peer


def _extend_alignments(
    ctx: RunContext, rows: dict[FrameKey, Any], new_media: set[str], search: _Search
) -> int:
    """Follow a video pair's best frame match along its time offset, confirming each frame
    pair on that line by keypoints and pixels.

    PDQ misses frames of fast pans sampled a fraction of a second apart in two copies, and
    low-texture frames; one anchor match plus confirmed neighbours gives the run of matches
    that offset agreement and interval estimation need. Only pairs involving media new in
    this run are followed, so an incremental run does what a full run does.
    """
    cfg = ctx.settings.default.dedupe
    frames_by_media: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for (media_id, frame_index), row in rows.items():
        if row["pts_s"] is not None and not row["uniform"]:
            frames_by_media[media_id].append((float(row["pts_s"]), frame_index))
    anchors: dict[tuple[str, str], tuple[int, int, int]] = {}
    existing: set[tuple[str, int, str, int]] = set()
    for a, fa, b, fb, distance, _ in ctx.catalog.frame_matches() + search.matches:
        existing.add((a, fa, b, fb))
        if (a in new_media or b in new_media) and a in frames_by_media and b in frames_by_media:
            best = anchors.get((a, b))
            if best is None or (distance, fa, fb) < best:
                anchors[(a, b)] = (distance, fa, fb)
    if not anchors:
        return 0
    thumbs_by_key = {
        (f.media_id, f.frame.frame_index): f.thumb_sha256 for f in ctx.catalog.frames()
    }
    rules = VerifyRules(cfg.keypoint_min_inliers, cfg.keypoint_min_ncc)
    cache: dict[FrameKey, tuple[np.ndarray, Features]] = {}

    def picture(key: FrameKey) -> tuple[np.ndarray, Features]:
        if key not in cache:
            rgb = thumbs.load(ctx.layout.thumbs, thumbs_by_key[key])
            cache[key] = (rgb, sift_features(rgb))
        return cache[key]

    confirmed: list[MatchRow] = []
    for (a, b), (_, fa, fb) in sorted(anchors.items()):
        offset = float(rows[(b, fb)]["pts_s"]) - float(rows[(a, fa)]["pts_s"])
        peers = sorted(frames_by_media[b])
        for time_a, frame_a in sorted(frames_by_media[a]):
            near = [
                (abs(t - time_a - offset), f)
                for t, f in peers
                if abs(t - time_a - offset) <= ALIGN_WINDOW_S
            ]
            if not near:
                continue
            frame_b = min(near)[1]
            if (a, frame_a, b, frame_b) in existing:
                continue
            pic_a, feat_a = picture((a, frame_a))
            pic_b, feat_b = picture((b, frame_b))
            same = verify(pic_a, feat_a, pic_b, feat_b, rules).confirmed
            if not same and min(len(feat_a), len(feat_b)) < PLAIN_FRAME_KEYPOINTS:
                same = verify_aligned(pic_a, pic_b, rules).confirmed
            if same:
                distance = frame_distance(rows[(a, frame_a)], rows[(b, frame_b)])
                confirmed.append((a, frame_a, b, frame_b, distance, "keypoints"))
        cache.clear()
    search.matches += confirmed
    return len(confirmed)


def _closest_in_shot(
    hashes: dict[FrameKey, Any],
    shots: dict[tuple[str, int], list[FrameKey]],
    a: FrameKey,
    b: FrameKey,
) -> tuple[int, int]:
    """Keypoints are kept for a shot's first frame only; a still confirmed against it was
    taken somewhere in that shot, so move each video side to the frame of the same shot
    whose hash is nearest the other side (the still's time, to within a sample)."""

    def nearest(video: FrameKey, other: FrameKey) -> int:
        same_shot = shots[(video[0], hashes[video]["shot_id"])]
        return min(same_shot, key=lambda key: (frame_distance(hashes[key], hashes[other]), key))[1]

    frame_a = nearest(a, b) if hashes[a]["pts_s"] is not None else a[1]
    frame_b = nearest(b, a) if hashes[b]["pts_s"] is not None else b[1]
    return frame_a, frame_b


def _codes(rows: dict[FrameKey, Any], keys: list[FrameKey], column: str) -> np.ndarray:
    if not keys:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(b"".join(rows[key][column] for key in keys), np.uint8).reshape(-1, 32)


def _load_index(
    cfg: DedupeConfig,
    path: Path,
    entries: list[tuple[int, str, int, str]],
    rows: dict[FrameKey, Any],
    column: str,
) -> tuple[hamming.HammingIndex, bool]:
    """The saved index when it agrees with the catalog's entries, else one rebuilt from them;
    and whether the file on disk already holds it. The file is written just before the
    catalog commits its entries, so a run killed in between leaves the file ahead (longer)."""
    if entries and path.exists():
        index = hamming.HammingIndex.from_bytes(path.read_bytes())
        if len(index) == len(entries):
            return index, True
    index = hamming.make_index(cfg.index, 256)
    usable = [e for e in entries if (e[1], e[2]) in rows]
    if usable:
        index.add(
            np.array([e[0] for e in usable], dtype=np.int64),
            _codes(rows, [(e[1], e[2]) for e in usable], column),
        )
    return index, not entries and not path.exists()


def _media_infos(ctx: RunContext, observed: dict[str, Any]) -> dict[str, MediaInfo]:
    times: dict[str, list[float]] = defaultdict(list)
    for frame in ctx.catalog.frames():
        if frame.frame.pts_s is not None:
            times[frame.media_id].append(frame.frame.pts_s)
    return {
        media_id: MediaInfo(media_id, m.kind, m.duration_s, tuple(sorted(times[media_id])))
        for media_id, m in observed.items()
    }


def _with_exact(ctx: RunContext, matches: list[MediaMatch]) -> list[MediaMatch]:
    """Different bytes, identical pictures (metadata stripped, container remuxed): `exact`.

    Byte-identical files are already one media; here every stored frame of the two media
    decodes to the same thumbnail."""
    pictures: dict[tuple[str, ...], list[str]] = defaultdict(list)
    by_media: dict[str, list[str]] = defaultdict(list)
    for frame in ctx.catalog.frames():
        by_media[frame.media_id].append(frame.thumb_sha256)
    for media_id, shas in by_media.items():
        pictures[tuple(shas)].append(media_id)
    exact = {
        (a, b)
        for group in pictures.values()
        for i, a in enumerate(sorted(group))
        for b in sorted(group)[i + 1 :]
    }
    kept = [m for m in matches if (m.media_a, m.media_b) not in exact]
    kept += [MediaMatch(a, b, "exact", 0) for a, b in sorted(exact)]
    return sorted(kept, key=lambda m: (m.media_a, m.media_b, m.a_start_s or 0.0))


def _write_contract(
    ctx: RunContext, matches: list[MediaMatch], clusters: dict[str, str], observed: dict[str, Any]
) -> dict[str, str]:
    processed = ctx.layout.processed
    outputs = {
        "matches.csv": contract.write_contract_csv(
            processed / "matches.csv", contract.MATCH_COLUMNS, [vars(m) for m in matches]
        ),
        "clusters.csv": contract.write_contract_csv(
            processed / "clusters.csv",
            contract.CLUSTER_COLUMNS,
            [{"media_id": m, "cluster_id": c} for m, c in sorted(clusters.items())],
        ),
    }
    posted: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for obs in ctx.catalog.observations():
        posted[obs.media_id].append((obs.posted_at, obs.source, obs.path))
    members: dict[str, list[MemberFacts]] = defaultdict(list)
    for media_id, cluster in clusters.items():
        m = observed[media_id]
        d = m.derived
        camera = " ".join(x for x in (d.get("camera_make", ""), d.get("camera_model", "")) if x)
        gps = (
            f"{d['gps_lat']:.3f},{d['gps_lon']:.3f}"
            if d.get("gps_lat") is not None and d.get("gps_lon") is not None
            else ""
        )
        members[cluster].append(
            MemberFacts(
                media_id,
                m.width or 0,
                m.height or 0,
                m.size_bytes,
                m.kind,
                tuple(sorted(posted[media_id])),
                d.get("captured_at", ""),
                d.get("creation_time", ""),
                camera,
                gps,
                bool(camera or d.get("captured_at")),
            )
        )
    provenance = [cluster_provenance(c, group) for c, group in sorted(members.items())]
    outputs["cluster_provenance.csv"] = contract.write_contract_csv(
        processed / "cluster_provenance.csv",
        contract.PROVENANCE_COLUMNS,
        [
            {
                **vars(p),
                "sources": ";".join(p.sources),
                "disagreements": " ; ".join(p.disagreements),
            }
            for p in provenance
        ],
    )
    return outputs
