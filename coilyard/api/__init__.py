"""The HTTP service: `create_app(settings)` (app.py), one router per area, auth, the batching WMS writer."""

from coilyard.api.app import create_app

__all__ = ["create_app"]
