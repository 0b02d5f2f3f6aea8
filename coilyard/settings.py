"""Settings from COILYARD_* environment variables (or a .env file); built in bootstrap, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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

    # --- the HTTP service (`coilyard serve`, docs/api.md) ---
    api_host: str = Field("127.0.0.1", description="Address `coilyard serve` listens on.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port `coilyard serve` listens on.")
    token_ttl_s: float = Field(8 * 3600.0, gt=0, description="Lifetime of a user's bearer token (s).")
    service_token_ttl_s: float = Field(
        365 * 24 * 3600.0, gt=0, description="Lifetime of a vehicle or integration client's token (s)."
    )
    token_cache_s: float = Field(
        15.0, ge=0, description="How long a checked token is trusted without asking the database again (s)."
    )
    admin_password: str | None = Field(
        None, description="If set, `coilyard serve` creates user 'admin' (role admin) with it when missing."
    )
    write_batch: int = Field(
        128, ge=1, le=10_000, description="Most WMS commands the writer commits in one transaction."
    )
    events_redis: bool = Field(
        False, description="Publish and stream live events through Redis (COILYARD_REDIS_URL)."
    )
    runs_dir: Path = Field(Path("out/api-runs"), description="Where simulation runs started over HTTP go.")
    write_lock: bool = Field(
        False,
        description="PostgreSQL: the service's writer takes the ledger's advisory lock per burst of batches. Worth it "
        "when several processes write one database often; without it they race and the loser re-applies.",
    )

    # --- the vehicles `coilyard serve` drives (docs/api.md, "Vehicles") ---
    vehicles: Literal["none", "sim", "vda5050", "can"] = Field(
        "none",
        description="Vehicle port of the live fleet: none (orders booked, nothing drives), sim (the twin's "
        "simulated vehicles in real time), vda5050 (MQTT at COILYARD_MQTT_URL) or can (CAN gateways).",
    )
    sim_speed_up: float = Field(
        1.0, gt=0, le=10_000, description="sim: simulated vehicles drive and work this much faster."
    )
    sim_seed: int = Field(0, ge=0, description="sim: seed of the simulated handling times.")
    vda5050_interface_name: str = Field("uagv", min_length=1, description="vda5050: first topic level.")
    vda5050_manufacturer: str = Field(
        "coilyard", min_length=1, description="vda5050: manufacturer topic level."
    )
    can_interface: str = Field("socketcan", min_length=1, description="can: python-can interface name.")
    can_channel: str = Field("can0", min_length=1, description="can: the bus channel (e.g. can0).")
    can_vehicles: dict[str, int] = Field(
        default_factory=dict,
        description='can: CAN node id of each vehicle gateway, JSON, e.g. {"AGV-01": 1, "AGV-02": 2}.',
    )
