"""Settings from COILYARD_* environment variables (or a .env file); built in bootstrap, never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COILYARD_", env_file=".env", extra="ignore")

    layout: Path = Field(Path("examples/aluminium-rolling.yaml"), description="The plant layout file.")
    database_url: str = Field(
        "sqlite:///coilyard.db",
        description="SQLAlchemy URL; SQLite is the embedded default, PostgreSQL for production.",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Live event bus and vehicle-state cache.")
    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="Broker for VDA 5050 vehicles.")
