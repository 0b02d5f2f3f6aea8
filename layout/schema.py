"""The plant file as it is written: pydantic models at the edge.

These models check shape, types and signs (a speed must be positive, a band must have min <= max) and
forbid unknown keys, so a typo is reported instead of silently ignored. Rules that look across the file
(references, overlaps, reachability) live in `layout.rules`. Units are SI: metres, seconds, tonnes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=1)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Point = tuple[float, float]
Outline = Annotated[list[Point], Field(min_length=3)]


class Strict(BaseModel):
    # NaN and infinity pass `gt=0`-style checks and then poison geometry: refuse them at the edge.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Band(Strict):
    """An inclusive range, for example the coil widths a row accepts."""

    min: Positive
    max: Positive

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Units(Strict):
    """Declared so a file is never read in the wrong unit; coilyard works in SI throughout."""

    length: Literal["m"] = "m"
    time: Literal["s"] = "s"
    mass: Literal["t"] = "t"


class Axis(Strict):
    """One drive: top speed (m/s) and acceleration (m/s²); motion is trapezoidal."""

    speed: Positive
    acceleration: Positive


# ---------------------------------------------------------------------------------------------- stores


class StackingRules(Strict):
    """Site factors for flat-store stacking; the WMS enforces them, the layout only carries them."""

    upper_weight_factor: Positive = 1.0
    support_od_tolerance: NonNegative = 0.15
    hot_threshold_c: float = 80.0
    thin_gauge_mm: NonNegative = 1.0
    cooling_time_constant_h: Positive = 18.0
    ambient_c: float = 25.0


class SaddleRow(Strict):
    """A line of floor saddles; coils lie side by side with parallel axes, pyramid-stacked.

    Ground positions follow each other from `origin` along `heading_deg`, `pitch` apart. With two tiers an
    upper position sits between each pair of neighbouring ground positions and rests on both.
    """

    id: Identifier
    origin: Point
    heading_deg: float = 0.0
    positions: Count
    pitch: Positive
    saddle_length: Positive
    width_band: Band
    od_band: Band
    max_coil_weight: Positive
    tiers: Literal[1, 2] = 2
    cooling_positions: list[Count] | Literal["all"] = Field(default_factory=list)


class StackRow(Strict):
    """A line of ingot or slab stack positions on the floor."""

    id: Identifier
    origin: Point
    heading_deg: float = 0.0
    positions: Count
    pitch: Positive
    stack_length: Positive
    stack_width: Positive
    max_height: Positive
    max_weight: Positive


class BayHandover(Strict):
    """A floor spot inside a bay where vehicles and cranes hand over loads; `node` is in the network."""

    id: Identifier
    node: Identifier


class Runway(Strict):
    """Crane rails: the bridge travels along start→end, the trolley `span` wide across it."""

    id: Identifier
    start: Point
    end: Point
    span: Positive
    min_crane_distance: Positive


class OverheadCrane(Strict):
    id: Identifier
    runway: Identifier
    bays: Annotated[list[Identifier], Field(min_length=1)]
    bridge: Axis
    trolley: Axis
    hoist: Axis
    lift_height: Positive
    safe_working_load: Positive
    pick_time: NonNegative = 30.0
    drop_time: NonNegative = 30.0
    home: NonNegative = 0.0


class _CraneStore(Strict):
    id: Identifier
    name: str = ""
    runways: list[Runway] = Field(default_factory=list)
    cranes: list[OverheadCrane] = Field(default_factory=list)


class FlatBay(Strict):
    id: Identifier
    outline: Outline
    floor_load_limit: Positive
    rows: list[SaddleRow] = Field(default_factory=list)
    handovers: list[BayHandover] = Field(default_factory=list)


class IngotBay(Strict):
    id: Identifier
    outline: Outline
    floor_load_limit: Positive
    rows: list[StackRow] = Field(default_factory=list)
    handovers: list[BayHandover] = Field(default_factory=list)


class FlatStore(_CraneStore):
    kind: Literal["flat"]
    bays: Annotated[list[FlatBay], Field(min_length=1)]
    stacking: StackingRules = StackingRules()


class IngotStore(_CraneStore):
    kind: Literal["ingot"]
    bays: Annotated[list[IngotBay], Field(min_length=1)]


class CellSize(Strict):
    width: Positive
    depth: Positive
    height: Positive


class StackerCrane(Strict):
    horizontal: Axis
    vertical: Axis
    pick_deposit_time: NonNegative = 30.0
    safe_working_load: Positive


class IOPoint(Strict):
    aisle: Count
    node: Identifier


class HighBayStore(Strict):
    """A rack store: aisles side by side, cells on both sides, one stacker crane per aisle.

    `origin` is the front corner of the first aisle's outer rack; aisles run along `heading_deg` and
    follow one another to their left (across). Columns are counted from the front, where the
    input/output points are; side L is the rack on an aisle's left looking along the heading.
    """

    kind: Literal["high_bay"]
    id: Identifier
    name: str = ""
    origin: Point
    heading_deg: float = 0.0
    aisles: Count
    columns: Count
    levels: Count
    sides: Literal[1, 2] = 2
    cell: CellSize
    aisle_width: Positive
    cell_load_limit: Positive
    width_band: Band
    od_band: Band
    stacker: StackerCrane
    io_points: list[IOPoint] = Field(default_factory=list)


Store = Annotated[FlatStore | IngotStore | HighBayStore, Field(discriminator="kind")]

# ---------------------------------------------------------------------------------------------- stations

StationKind = Literal[
    "casting",
    "hot_mill",
    "cold_mill_entry",
    "cold_mill_exit",
    "annealing_furnace",
    "slitter",
    "packing",
    "weighing",
    "labelling",
    "shipping_dock",
    "buffer",
]


class Station(Strict):
    id: Identifier
    name: str = ""
    kind: StationKind
    role: Literal["produces", "consumes", "both"]
    outline: Outline | None = None
    handovers: Annotated[list[Identifier], Field(min_length=1)]
    served_by: list[Identifier] | None = None


# ---------------------------------------------------------------------------------------------- network

NodeKind = Literal["waypoint", "handover", "charger", "parking"]


class Node(Strict):
    id: Identifier
    at: Point
    kind: NodeKind = "waypoint"


class Edge(Strict):
    source: Identifier = Field(alias="from")
    target: Identifier = Field(alias="to")
    two_way: bool = True
    length: Positive | None = None
    speed_limit: Positive | None = None
    classes: list[Identifier] | None = None
    via: list[Point] = Field(default_factory=list)


class RailStop(Strict):
    id: Identifier
    at: NonNegative
    kind: NodeKind = "handover"


class Rail(Strict):
    """A 1-D track for rail-guided vehicles; stops are network nodes placed `at` metres along `path`."""

    id: Identifier
    path: Annotated[list[Point], Field(min_length=2)]
    stops: Annotated[list[RailStop], Field(min_length=2)]
    speed_limit: Positive | None = None


class Network(Strict):
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    rails: list[Rail] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------- vehicles


class Footprint(Strict):
    length: Positive
    width: Positive


class Battery(Strict):
    capacity_kwh: Positive
    moving_kw: NonNegative
    idle_kw: NonNegative = 0.0
    charge_kw: Positive
    low_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.25
    full_fraction: Annotated[float, Field(gt=0, le=1)] = 0.9

    @model_validator(mode="after")
    def _low_below_full(self) -> Battery:
        if self.low_fraction >= self.full_fraction:
            raise ValueError(
                f"low_fraction ({self.low_fraction}) must be below full_fraction ({self.full_fraction})"
            )
        return self


class VehicleClass(Strict):
    id: Identifier
    kind: Literal["agv", "rgv"]
    speed_empty: Positive
    speed_loaded: Positive
    acceleration: Positive
    deceleration: Positive | None = None
    capacity: Positive
    capacity_units: Count = 1
    footprint: Footprint
    load_time: NonNegative = 20.0
    unload_time: NonNegative = 20.0
    battery: Battery | None = None
    rail: Identifier | None = None

    @model_validator(mode="after")
    def _rail_only_for_rgv(self) -> VehicleClass:
        if self.kind == "rgv" and self.rail is None:
            raise ValueError("an RGV class needs `rail`: the id of the rail it runs on")
        if self.kind == "agv" and self.rail is not None:
            raise ValueError("`rail` is only for RGV classes")
        return self


class FleetEntry(Strict):
    vehicle_class: Identifier = Field(alias="class")
    count: Count
    prefix: Identifier | None = None
    homes: list[Identifier] | None = None


# ---------------------------------------------------------------------------------------------- plant


ZoneTarget = Literal["vehicles", "loaded_cranes"]


def _everything_a_zone_closes() -> list[ZoneTarget]:
    return ["vehicles", "loaded_cranes"]


class SafetyZone(Strict):
    """An area that, while active, is closed to the vehicles and/or loaded cranes it `applies_to`."""

    id: Identifier
    outline: Outline
    active: bool = False
    applies_to: list[ZoneTarget] = Field(default_factory=_everything_a_zone_closes)


class PlantInfo(Strict):
    id: Identifier
    name: str = ""
    units: Units = Units()
    outline: Outline


class PlantFile(Strict):
    """A coilyard plant layout file (format 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, title="coilyard plant layout")

    format: Literal[1] = 1
    plant: PlantInfo
    stores: list[Store] = Field(default_factory=list)
    stations: list[Station] = Field(default_factory=list)
    network: Network = Network()
    vehicle_classes: list[VehicleClass] = Field(default_factory=list)
    fleet: list[FleetEntry] = Field(default_factory=list)
    safety_zones: list[SafetyZone] = Field(default_factory=list)
