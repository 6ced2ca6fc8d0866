from __future__ import annotations

import pytest
from pydantic import ValidationError

from storage.settings import Settings
from storage.settings_table import render
from tests.paths import REPO


def test_docs_settings_table_is_current():
    committed = (REPO / "docs" / "settings.md").read_text()
    assert committed == render(), "run: python -m storage.settings_table > docs/settings.md"


def test_every_setting_is_documented():
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undocumented == []


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.delenv("CUTOUT_API_KEY_SECRET", raising=False)
    monkeypatch.setenv("CUTOUT_ENVIRONMENT", "production")
    monkeypatch.setenv("CUTOUT_S3_CREATE_BUCKET", "false")
    with pytest.raises(ValidationError, match="CUTOUT_API_KEY_SECRET"):
        Settings()
    monkeypatch.setenv("CUTOUT_API_KEY_SECRET", "a-real-secret")
    assert Settings().environment == "production"
