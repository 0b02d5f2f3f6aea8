"""VDA 5050 2.1 master control over MQTT (vendored message schemas in `schemas/`)."""
