"""Edges to real equipment and infrastructure: VDA 5050 over MQTT, CAN gateways, Redis event bus."""
