"""Synthetic plants of any size, for benchmarks and scaling tests.

`generate_plant_yaml(positions, nodes)` lays out flat-store bays (ten two-tier saddle rows of 26 ground
places each, one runway and crane per bay) in a grid, and a square road grid with `nodes` nodes beside
it; stations, handovers and a fleet tie the two together. The result passes `coilyard layout check`.
"""

from __future__ import annotations

import math

import yaml

GROUND_PER_ROW = 26
ROWS_PER_BAY = 10
BAYS_PER_STORE = 10
PITCH = 2.4
ROW_SPACING = 3.0
BAY_LENGTH = GROUND_PER_ROW * PITCH + 4.0
BAY_WIDTH = ROWS_PER_BAY * ROW_SPACING + 4.0
GRID_SPACING = 5.0


def generate_plant(positions: int = 50_000, nodes: int = 5_000) -> dict[str, object]:
    per_row = 2 * GROUND_PER_ROW - 1
    rows_needed = math.ceil(positions / per_row)
    bays_needed = math.ceil(rows_needed / ROWS_PER_BAY)
    stores = []
    bays_per_line = math.ceil(math.sqrt(bays_needed))
    road_y = -20.0
    for s in range(math.ceil(bays_needed / BAYS_PER_STORE)):
        bays, runways, cranes = [], [], []
        for b in range(BAYS_PER_STORE):
            k = s * BAYS_PER_STORE + b
            if k >= bays_needed:
                break
            x0 = (k % bays_per_line) * (BAY_LENGTH + 2)
            y0 = (k // bays_per_line) * (BAY_WIDTH + 2)
            bay_id = f"B{b + 1:02d}"
            rows = [
                {
                    "id": f"R{r + 1:02d}",
                    "origin": [x0 + 2 + PITCH / 2, y0 + 3 + r * ROW_SPACING],
                    "positions": GROUND_PER_ROW,
                    "pitch": PITCH,
                    "saddle_length": 2.2,
                    "width_band": {"min": 1.0, "max": 2.0},
                    "od_band": {"min": 1.2, "max": 2.2},
                    "max_coil_weight": 25,
                }
                for r in range(ROWS_PER_BAY)
            ]
            bays.append(
                {
                    "id": bay_id,
                    "outline": [
                        [x0, y0],
                        [x0 + BAY_LENGTH, y0],
                        [x0 + BAY_LENGTH, y0 + BAY_WIDTH],
                        [x0, y0 + BAY_WIDTH],
                    ],
                    "floor_load_limit": 12,
                    "rows": rows,
                    "handovers": [{"id": f"S{s + 1:03d}-{bay_id}-H", "node": f"H-{k}"}],
                }
            )
            runways.append(
                {
                    "id": f"RW{b + 1:02d}",
                    "start": [x0, y0 + BAY_WIDTH / 2],
                    "end": [x0 + BAY_LENGTH, y0 + BAY_WIDTH / 2],
                    "span": BAY_WIDTH - 1,
                    "min_crane_distance": 4,
                }
            )
            cranes.append(
                {
                    "id": f"S{s + 1:03d}-C{b + 1:02d}",
                    "runway": f"RW{b + 1:02d}",
                    "bays": [bay_id],
                    "bridge": {"speed": 1.5, "acceleration": 0.2},
                    "trolley": {"speed": 0.8, "acceleration": 0.2},
                    "hoist": {"speed": 0.15, "acceleration": 0.1},
                    "lift_height": 8,
                    "safe_working_load": 30,
                }
            )
        stores.append(
            {"kind": "flat", "id": f"FS{s + 1:03d}", "bays": bays, "runways": runways, "cranes": cranes}
        )

    side = math.ceil(math.sqrt(nodes))
    grid_nodes, edges = [], []
    grid_x0 = -(side * GRID_SPACING) - 20
    for i in range(nodes):
        gx, gy = i % side, i // side
        kind = "parking" if i < 40 and i % 2 == 0 else "waypoint"  # 10 m apart: room for a 6 m AGV
        grid_nodes.append(
            {"id": f"N{i}", "at": [grid_x0 + gx * GRID_SPACING, gy * GRID_SPACING], "kind": kind}
        )
        if gx > 0:
            edges.append({"from": f"N{i - 1}", "to": f"N{i}"})
        if gy > 0:
            edges.append({"from": f"N{i - side}", "to": f"N{i}"})
    # A road along the front of the bays, joined to the grid, with one handover node into each bay.
    top_right = f"N{side - 1}"
    road = []
    for k in range(bays_needed):
        x0 = (k % bays_per_line) * (BAY_LENGTH + 2)
        y0 = (k // bays_per_line) * (BAY_WIDTH + 2)
        grid_nodes.append({"id": f"H-{k}", "at": [x0 + BAY_LENGTH - 1, y0 + 1.5], "kind": "handover"})
        road.append((k, x0 + BAY_LENGTH - 1))
    columns = sorted({round(x, 3) for _, x in road})
    for c, x in enumerate(columns):
        grid_nodes.append({"id": f"RD-{c}", "at": [x, road_y]})
        edges.append({"from": f"RD-{c - 1}" if c else top_right, "to": f"RD-{c}"})
    for k, x in road:
        column = columns.index(round(x, 3))
        row = k // bays_per_line
        below = f"RD-{column}" if row == 0 else f"H-{k - bays_per_line}"
        edges.append({"from": below, "to": f"H-{k}"})
    width = max(c for c in columns) + BAY_LENGTH + 10
    height = max(side * GRID_SPACING, bays_per_line * (BAY_WIDTH + 2)) + 10
    return {
        "format": 1,
        "plant": {
            "id": "generated",
            "name": f"Generated plant ({positions} positions, {nodes} nodes)",
            "outline": [
                [grid_x0 - 10, road_y - 10],
                [width, road_y - 10],
                [width, height],
                [grid_x0 - 10, height],
            ],
        },
        "stores": stores,
        "stations": [
            {"id": "MILL", "kind": "hot_mill", "role": "produces", "handovers": [f"N{nodes - 1}"]},
            {"id": "DOCK", "kind": "shipping_dock", "role": "consumes", "handovers": [f"N{side}"]},
        ],
        "network": {"nodes": grid_nodes, "edges": edges},
        "vehicle_classes": [
            {
                "id": "agv",
                "kind": "agv",
                "speed_empty": 1.5,
                "speed_loaded": 1.0,
                "acceleration": 0.3,
                "capacity": 30,
                "footprint": {"length": 6, "width": 2.8},
            }
        ],
        "fleet": [{"class": "agv", "count": 20}],
    }


def generate_plant_yaml(positions: int = 50_000, nodes: int = 5_000) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(generate_plant(positions, nodes), Dumper=dumper, sort_keys=False)
