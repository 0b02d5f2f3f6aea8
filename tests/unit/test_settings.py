from __future__ import annotations

from pathlib import Path

import pytest

from coilyard.settings import Settings


def test_defaults_need_no_servers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.layout == Path("examples/aluminium-rolling.yaml")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COILYARD_DATABASE_URL", "postgresql+psycopg://127.0.0.1/coilyard")
    monkeypatch.setenv("COILYARD_LAYOUT", "examples/tiny.yaml")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://127.0.0.1/coilyard"
    assert settings.layout == Path("examples/tiny.yaml")
