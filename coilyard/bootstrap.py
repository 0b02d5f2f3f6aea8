"""Composition root: build the WMS message bus from settings. The only place infrastructure is created."""

from __future__ import annotations

import time

from adapters.sql import SqlUnitOfWork, create_engine_for, migrate
from coilyard.settings import Settings
from layout import Plant, load_plant
from wms.service_layer.messagebus import MessageBus


class SystemClock:
    def now(self) -> float:
        return time.time()


def wms_bus(settings: Settings, plant: Plant | None = None) -> MessageBus:
    """A bus on the configured database (migrated to the current schema) and the configured plant."""
    plant = plant or load_plant(settings.layout)
    engine = create_engine_for(settings.database_url)
    migrate(engine)
    return MessageBus(SqlUnitOfWork(engine, plant), SystemClock())
