"""The ThreatExchange conformance family for `make eval`: real test media from Meta's
ThreatExchange repository (`shared/reference/threatexchange`, BSD licences there), grouped
as the media say, scored like the generated families.

Nothing is generated: the reference files are copied byte for byte into
DIR/raw/threatexchange/<folder>/ (the reference itself is read-only and outside the
collection), and the truth, in the format `pipeline.evaluate` reads plus a `category`
column, is written to DIR/eval_truth.csv:

- the bridge photo (`bridge-mods/aaa-orig.jpg`) and every copy of it: its 11 edits
  (blur, contrast, saturation, sharpen, shrink: category `edit`; the squashed squares:
  `square`), the 13 colour modes (`colour_mode`), the left-right mirror (`mirror`), and
  the rotations and vertical flips of `dih/` (`rotation`), all `near_duplicate`;
- every version of the chair and of the pattern footage (shorter cuts, SD with side bars,
  grey, sepia, logo bars) against its original: `video_overlap` (category `version`),
  without times (the repository does not give the offsets);
- hard negatives: the four desk captures of `exif-rotn/` (different moments, different
  EXIF orientations) and the two photos of the pen and coaster are `same_scene`: they must
  not be called copies; every other file (the labelme photos, the black and the tiny jpg,
  the doorknob and padded test videos) is `unrelated` to every file.

The conformance expectation (`pipeline.evaluate.conformance`): every category above except
`rotation` fully joined to its original, nothing linked to an unrelated file, no
same-content relation between same-scene captures.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.layout import DataLayout
from pipeline.synth.family import (
    TRUTH_COLUMNS,
    TRUTH_FILE,
    TruthRow,
    sha256_file,
    write_truth_and_manifest,
)

FAMILY = "threatexchange"
INCIDENT = "threatexchange"
DEFAULT_REFERENCE = Path("../shared/reference/threatexchange")
TE_TRUTH_COLUMNS = (*TRUTH_COLUMNS, "category")
# Categories the conformance test requires joined to their original (rotations are
# reported, not required: the issue asks for edits, colour modes, mirrors and bars).
CONFORMANCE_CATEGORIES = ("edit", "square", "colour_mode", "mirror", "version")

_BRIDGE = "pdq-images/bridge-mods/aaa-orig.jpg"
_CHAIR = "tmk-sample-videos/chair-orig-22-sd-bar.mp4"
_PATTERN = "tmk-sample-videos/pattern-hd-no-bar.mp4"
_DIH_CATEGORY = {
    "bridge-1-original.jpg": "edit",
    "bridge-5-flipx.jpg": "mirror",
}
_SAME_SCENE = (
    (
        "pdq-images/reg-test-input/exif-rotn/exif-rotn-1.jpg",
        "pdq-images/reg-test-input/exif-rotn/exif-rotn-3.jpg",
        "pdq-images/reg-test-input/exif-rotn/exif-rotn-6.jpg",
        "pdq-images/reg-test-input/exif-rotn/exif-rotn-8.jpg",
    ),
    ("pdq-images/misc-images/c.png", "pdq-images/reg-test-input/pen-and-coaster.png"),
)


@dataclass(frozen=True)
class Member:
    """One reference file: its path under the reference folder, the original it copies
    ('' for an original or an unrelated file), its category, and its relation kind."""

    source: str
    original: str = ""
    category: str = ""
    kind: str = "image"
    scene: str = ""


def members(reference: Path) -> tuple[Member, ...]:
    """Every reference file this family uses, described; raises FileNotFoundError when the
    reference folder is incomplete."""
    found = sorted(
        path.relative_to(reference).as_posix()
        for path in reference.rglob("*")
        if path.is_file() and path.suffix.lower() in {".jpg", ".png", ".webp", ".mp4"}
    )
    if _BRIDGE not in found or _CHAIR not in found or _PATTERN not in found:
        raise FileNotFoundError(f"{reference} lacks the ThreatExchange reference media")
    scene_of = {path: group[0] for group in _SAME_SCENE for path in group}
    result = []
    for path in found:
        name = path.rsplit("/", 1)[1]
        if path in (_BRIDGE, _CHAIR, _PATTERN):
            result.append(Member(path, kind=_kind(path)))
        elif path.startswith("pdq-images/bridge-mods/"):
            category = "square" if name.startswith("square-") else "edit"
            result.append(Member(path, _BRIDGE, category))
        elif path.startswith("pdq-images/misc-images/modes/"):
            result.append(Member(path, _BRIDGE, "colour_mode"))
        elif path.startswith("pdq-images/reg-test-input/dih/"):
            result.append(Member(path, _BRIDGE, _DIH_CATEGORY.get(name, "rotation")))
        elif name.startswith("chair-"):
            result.append(Member(path, _CHAIR, "version", "video"))
        elif name.startswith("pattern-"):
            result.append(Member(path, _PATTERN, "version", "video"))
        else:
            result.append(Member(path, kind=_kind(path), scene=scene_of.get(path, "")))
    return tuple(result)


def truth_rows(files: Sequence[Member]) -> list[dict[str, object]]:
    """Original–copy rows, then copy–copy rows of one group, then the hard negatives."""
    group_of = {m.source: m.original or m.source for m in files}
    grouped = {m.original for m in files if m.original}
    direct, transitive, negatives = [], [], []
    for x, y in itertools.combinations(files, 2):
        paths = (_target(x.source), _target(y.source))
        if group_of[x.source] == group_of[y.source] and group_of[x.source] in grouped:
            relation = "video_overlap" if x.kind == "video" else "near_duplicate"
            if y.original == x.source or x.original == y.source:
                original, copy = (x, y) if y.original == x.source else (y, x)
                direct.append(
                    _row(
                        _target(original.source),
                        _target(copy.source),
                        relation,
                        Path(copy.source).stem,
                        copy.category,
                    )
                )
            else:
                transitive.append(_row(*paths, relation, "copy+copy", ""))
        elif x.scene and x.scene == y.scene:
            negatives.append(_row(*paths, "none", "same_scene", ""))
        elif _unrelated(x, grouped) or _unrelated(y, grouped):
            negatives.append(_row(*paths, "none", "unrelated", ""))
    return direct + transitive + negatives


def write_threatexchange_corpus(layout: DataLayout, reference: Path = DEFAULT_REFERENCE) -> Path:
    """Copy the reference media into layout.raw/threatexchange and write the truth; files
    already there are reused when they are exactly the reference's, otherwise
    FileExistsError. Returns the truth file's path."""
    files = members(reference)
    root = layout.raw
    truth_path = layout.data_dir / TRUTH_FILE
    digests = {_target(m.source): sha256_file(reference / m.source) for m in files}
    existing = [p for p in (root / INCIDENT).rglob("*") if p.is_file()]
    if existing:
        on_disk = {p.relative_to(root).as_posix(): sha256_file(p) for p in existing}
        if on_disk == digests and truth_path.is_file():
            return truth_path
        raise FileExistsError(f"{root / INCIDENT} holds other files; delete it to regenerate")
    for member in files:
        target = root / _target(member.source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reference / member.source, target)
    manifest = {"family": FAMILY, "reference": str(reference), "files": digests}
    return write_truth_and_manifest(layout, TE_TRUTH_COLUMNS, truth_rows(files), manifest)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipeline.synth.threatexchange_corpus --data-dir DIR [--reference DIR]`."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.synth.threatexchange_corpus",
        description="Copy the ThreatExchange reference media into DIR/raw/threatexchange and "
        "write their grouping as DIR/eval_truth.csv (for `python -m pipeline.evaluate`).",
    )
    parser.add_argument("--data-dir", type=Path, required=True, metavar="DIR")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, metavar="DIR")
    args = parser.parse_args(argv)
    try:
        truth = write_threatexchange_corpus(DataLayout(args.data_dir), args.reference)
    except (FileExistsError, FileNotFoundError) as exc:
        print(f"threatexchange corpus: {exc}", file=sys.stderr)
        return 2
    print(f"threatexchange corpus: truth in {truth}")
    return 0


def _unrelated(member: Member, grouped: set[str]) -> bool:
    return not member.original and member.source not in grouped and not member.scene


def _row(
    path_a: str, path_b: str, relation: str, transform: str, category: str
) -> dict[str, object]:
    """A truth row without times (the repository does not give the offsets)."""
    return TruthRow(path_a, path_b, relation, transform, category=category).as_dict()


def _target(source: str) -> str:
    """Where a reference file goes under raw/: the incident, then its folder as a source."""
    folder, name = source.rsplit("/", 1)
    return f"{INCIDENT}/{folder.replace('/', '-')}/{name}"


def _kind(path: str) -> str:
    return "video" if path.endswith(".mp4") else "image"


if __name__ == "__main__":
    raise SystemExit(main())
