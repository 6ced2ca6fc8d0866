"""The operator docs cannot drift: the settings and metrics they name exist, and vice versa."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY

import api.metrics
import storage.metrics
import workers.metrics
from storage.error_codes import ErrorCode
from storage.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
SETTINGS = {f"CUTOUT_{name.upper()}" for name in Settings.model_fields}


def test_deploy_guide_points_at_the_generated_settings_table():
    deploy = (DOCS / "deploy.md").read_text()
    assert "](settings.md)" in deploy
    assert "python -m storage.settings_table > docs/settings.md" in deploy


def test_every_setting_the_operator_docs_name_exists():
    for page in ("deploy.md", "operations.md"):
        text = (DOCS / page).read_text()
        # `CUTOUT_S3_*` names a family, not a setting.
        named = {name for name, star in re.findall(r"(CUTOUT_[A-Z0-9_]+)(\*?)", text) if not star}
        assert named, page
        assert named <= SETTINGS, (page, named - SETTINGS)


def test_every_metric_is_documented():
    modules = (api.metrics, storage.metrics, workers.metrics)
    assert all(modules)
    ours = {"cutout_queue_depth"}  # sampled per scrape, not registered
    for metric in REGISTRY.collect():
        if metric.name.startswith("cutout_"):
            ours.add(metric.name + ("_total" if metric.type == "counter" else ""))
    operations = (DOCS / "operations.md").read_text()
    assert len(ours) == 9
    for name in ours:
        assert f"`{name}`" in operations, name


def test_overload_is_a_documented_additive_code():
    assert ErrorCode.SERVICE_OVERLOADED == "service_overloaded"
    assert "| 503 | `service_overloaded` |" in (DOCS / "errors.md").read_text()
