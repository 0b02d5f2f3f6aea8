"""Cranes: overhead cranes on shared runways and stacker cranes in high-bay aisles (domain core)."""
