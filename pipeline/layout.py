"""Where a collection's folders are: DIR/raw (read-only evidence), annotations, processed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataLayout:
    data_dir: Path

    @property
    def raw(self) -> Path:
        return self.data_dir / "raw"

    @property
    def annotations(self) -> Path:
        return self.data_dir / "annotations"

    @property
    def processed(self) -> Path:
        return self.data_dir / "processed"

    @property
    def catalog(self) -> Path:
        return self.processed / "catalog.sqlite"

    @property
    def custody_log(self) -> Path:
        return self.processed / "custody.jsonl"

    @property
    def thumbs(self) -> Path:
        return self.processed / "thumbs"

    def contract_file(self, name: str) -> Path:
        return self.processed / name
