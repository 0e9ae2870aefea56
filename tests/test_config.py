"""Configuration: the documented defaults are the code's, overrides are validated."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import Config, ConfigError, load_settings
from tests.conftest import REPO


def test_default_yaml_documents_exactly_the_built_in_defaults() -> None:
    documented = yaml.safe_load((REPO / "configs/default.yaml").read_text())
    assert documented == Config().model_dump()


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text("ingest:\n  max_image_pixel: 10\n")
    with pytest.raises(ConfigError, match=r"default.yaml.*ingest.max_image_pixel"):
        load_settings(tmp_path)


def test_incident_file_overrides_only_that_incident(tmp_path: Path) -> None:
    (tmp_path / "incidents").mkdir()
    (tmp_path / "default.yaml").write_text("count:\n  hog_min_score: 2.0\n")
    (tmp_path / "incidents" / "riverside.yaml").write_text("count:\n  solver_time_limit_s: 7\n")
    settings = load_settings(tmp_path)
    assert settings.for_incident("riverside").count.solver_time_limit_s == 7
    assert settings.for_incident("riverside").count.hog_min_score == 2.0  # default.yaml's
    assert settings.for_incident("other").count.solver_time_limit_s == 300


def test_an_incident_file_cannot_change_what_every_incident_shares(tmp_path: Path) -> None:
    (tmp_path / "incidents").mkdir()
    (tmp_path / "incidents" / "riverside.yaml").write_text("hash:\n  pdq_quality_min: 70\n")
    with pytest.raises(ConfigError, match=r"riverside.yaml: hash cannot differ per incident"):
        load_settings(tmp_path)


def test_config_hash_changes_with_any_value(tmp_path: Path) -> None:
    before = load_settings(tmp_path).config_hash()
    (tmp_path / "default.yaml").write_text("frames:\n  interval_s: 3.0\n")
    assert load_settings(tmp_path).config_hash() != before
