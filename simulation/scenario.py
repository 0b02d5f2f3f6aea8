"""The scenario file: what happens in the plant during a simulation run (pydantic models at the edge).

A scenario names production sources (coils arriving at a station's handover, or slabs dropped by a
casting pit in batches, with attribute distributions), demand (retrievals to the next process, truck shipments with time windows), shift
calendars, breakdowns (MTBF/MTTR per vehicle class, vehicle and crane), the initial stock, run settings
(duration, warm-up, replications, seed, sampling) and a few model switches (vehicle charging, handling-time
distributions, constant-speed cranes for validation). The format is documented in docs/scenario-format.md.

Unknown keys are refused and every problem is reported with its field path and line, like plant files.
Cross-checks against the plant (station, store and handover ids) run in `check_against_plant`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from layout import Plant
from layout import schema as plant_schema
from layout.loader import StrictYamlLoader, pydantic_problems, with_lines
from layout.problems import LayoutProblem, PathPart, format_path

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Identifier = plant_schema.Identifier


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ---------------------------------------------------------------------------------------------- distributions


class Constant(Strict):
    dist: Literal["constant"]
    value: float


class Exponential(Strict):
    dist: Literal["exponential"]
    mean: Positive


class Uniform(Strict):
    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        return self


class Normal(Strict):
    """A normal distribution, redrawn until it falls within [low, high] when those are given."""

    dist: Literal["normal"]
    mean: float
    sd: NonNegative
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Normal:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        if self.low is not None and self.high is not None and not self.low <= self.mean <= self.high:
            raise ValueError(f"mean ({self.mean}) must lie within low..high")
        return self


class Triangular(Strict):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise ValueError(
                f"need low <= mode <= high and low < high (got {self.low}, {self.mode}, {self.high})"
            )
        return self


class Lognormal(Strict):
    """Lognormal given by the mean and standard deviation of the value itself (not of its logarithm)."""

    dist: Literal["lognormal"]
    mean: Positive
    sd: Positive


Distribution = Annotated[
    Constant | Exponential | Uniform | Normal | Triangular | Lognormal, Field(discriminator="dist")
]
Number = float | Distribution
Choice = Annotated[dict[str, Annotated[float, Field(gt=0)]], Field(min_length=1)]


# ---------------------------------------------------------------------------------------------- time


class Shift(Strict):
    """Hours of the day, 0-24; a shift past midnight is written as two shifts."""

    start_h: Annotated[float, Field(ge=0, le=24)]
    end_h: Annotated[float, Field(ge=0, le=24)]

    @model_validator(mode="after")
    def _ordered(self) -> Shift:
        if self.start_h >= self.end_h:
            raise ValueError(f"start_h ({self.start_h}) must be before end_h ({self.end_h})")
        return self


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Calendar(Strict):
    """When a source produces or a demand asks: these shifts on these days. Simulated time 0 is Monday 00:00."""

    days: Annotated[list[Weekday], Field(min_length=1)] = Field(default_factory=lambda: list(WEEKDAYS))
    shifts: Annotated[list[Shift], Field(min_length=1)]


# ---------------------------------------------------------------------------------------------- sources


class CoilAttributes(Strict):
    """How the attributes of arriving coils are drawn (SI units as named; weights in tonnes)."""

    alloy: Choice = Field(default_factory=lambda: {"AA1050": 1.0})
    temper: Choice = Field(default_factory=lambda: {"F": 1.0})
    width_m: Number = 1.5
    gauge_mm: Number = 4.0
    outer_diameter_m: Number = 1.8
    inner_diameter_m: Number = 0.61
    weight_t: Number = 20.0
    exit_temperature_c: Number = 25.0
    turnover: Choice = Field(default_factory=lambda: {"C": 1.0})


class SlabAttributes(Strict):
    """How the slabs of a casting drop are drawn: once per drop (one cast: one alloy and one format)."""

    alloy: Choice = Field(default_factory=lambda: {"AA1050": 1.0})
    width_m: Number = 1.8
    length_m: Number = 8.5
    thickness_m: Number = 0.55
    weight_t: Number = 22.0


class Source(Strict):
    """A production line: coils appear at `handover` (default the station's first) and go to `store`.

    A source into an ingot store makes slabs (`slab` attributes) instead of coils (`attributes`). Each
    arrival is `batch` units at once (a casting pit's drop; rounded, at least 1). The line holds at most
    `exit_buffer` finished units at its exit; while that many wait there, it stops (blocked) until one is
    taken away.
    """

    id: Identifier
    station: Identifier
    handover: Identifier | None = None
    store: Identifier
    interarrival_s: Number
    calendar: Identifier | None = None
    exit_buffer: Annotated[int, Field(ge=1)] = 1
    batch: Number = 1
    attributes: CoilAttributes = CoilAttributes()
    slab: SlabAttributes | None = None


# ---------------------------------------------------------------------------------------------- demand


class Retrieval(Strict):
    """Requests for one coil each (from an ingot store: one slab) from `store` to a station (the next
    process), where it is consumed. With `max_open`, no new request is made while that many are open."""

    id: Identifier
    station: Identifier
    handover: Identifier | None = None
    store: Identifier
    interarrival_s: Number
    calendar: Identifier | None = None
    policy: Literal["fifo", "due"] = "fifo"
    alloy: str | None = None
    temper: str | None = None
    due_s: Positive | None = None  # the coil is wanted at the station within this many seconds
    max_open: Annotated[int, Field(ge=1)] | None = None  # a pull: no new request while this many are open


class Shipments(Strict):
    """Trucks arriving at shipping docks; each takes `coils` coils from `store` within its time window."""

    id: Identifier
    docks: Annotated[list[Identifier], Field(min_length=1)]
    store: Identifier
    interarrival_s: Number
    coils: Number = 2
    window_h: Positive = 2.0
    calendar: Identifier | None = None
    alloy: str | None = None
    temper: str | None = None


class Demand(Strict):
    retrievals: list[Retrieval] = Field(default_factory=list)
    shipments: list[Shipments] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------- equipment


class Failure(Strict):
    """Mean time between failures and mean time to repair, in hours; both exponential."""

    mtbf_h: Positive
    mttr_h: Positive


class Breakdowns(Strict):
    """`vehicles`/`cranes` apply to every one; `classes` (vehicle class ids) and `units` (vehicle or crane
    ids) override them. A failure takes effect when it is drawn (a driving vehicle stops at its next node;
    a crane with a load hooked waits in place); a vehicle carrying a unit keeps its order."""

    vehicles: Failure | None = None
    cranes: Failure | None = None
    classes: dict[Identifier, Failure] = Field(default_factory=dict)
    units: dict[Identifier, Failure] = Field(default_factory=dict)


class VehicleModel(Strict):
    """`charging`: "chargers" charges only at the chargers the fleet core sends vehicles to, at the class's
    charge power; "opportunity" also charges a vehicle wherever it stands idle; "none" models no battery level
    (vehicles never run low). `handling`: "fixed" takes the class's load/unload times, "exponential" draws
    them with those means (queueing validation). `handling_kw`: lift and positioning draw of a vehicle with a
    battery while it loads or unloads, on top of its idle draw."""

    charging: Literal["chargers", "opportunity", "none"] = "opportunity"
    handling: Literal["fixed", "exponential"] = "fixed"
    handling_kw: NonNegative = 5.0


class CraneModel(Strict):
    """`constant_speed` switches accelerations off (validation). Energy (docs/simulation.md, "Crane energy"):
    drive `efficiency`, `rolling_resistance`, moving masses in tonnes, auxiliary power while working
    (`overhead_kw`, `stacker_kw`) and `idle_kw` otherwise."""

    constant_speed: bool = False
    efficiency: Annotated[float, Field(gt=0, le=1)] = 0.8
    rolling_resistance: NonNegative = 0.005
    bridge_t: NonNegative = 40.0  # overhead crane bridge without its trolley
    trolley_t: NonNegative = 12.0  # overhead crane trolley with its hoist
    hook_t: NonNegative = 3.0  # hook block or coil tongs
    mast_t: NonNegative = 18.0  # stacker crane mast and travel carriage
    lift_t: NonNegative = 3.0  # stacker crane lift carriage and fork
    overhead_kw: NonNegative = 8.0  # auxiliary draw while working
    stacker_kw: NonNegative = 4.0
    idle_kw: NonNegative = 2.0


class Run(Strict):
    hours: Positive = 168.0
    warmup_hours: NonNegative = 8.0
    replications: Annotated[int, Field(ge=1, le=1000)] = 3
    seed: Annotated[int, Field(ge=0)] = 1
    sample_s: Positive = 600.0
    fleet_tick_s: Positive = 120.0  # the fleet core's fallback tick; events tick it anyway
    trace: bool = True  # write trace.jsonl for replication 0


class ScenarioInfo(Strict):
    id: Identifier
    name: str = ""
    layout: str | None = None  # the plant file this scenario is written for (informative)


class ScenarioFile(Strict):
    """A coilyard simulation scenario (format 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, title="coilyard scenario")

    format: Literal[1] = 1
    scenario: ScenarioInfo
    run: Run = Run()
    calendars: dict[Identifier, Calendar] = Field(default_factory=dict)
    sources: list[Source] = Field(default_factory=list)
    demand: Demand = Demand()
    initial_stock: dict[Identifier, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    breakdowns: Breakdowns = Breakdowns()
    vehicles: VehicleModel = VehicleModel()
    cranes: CraneModel = CraneModel()
    plant_overrides: dict[str, float | int | str | bool] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- loading


class ScenarioInvalid(ValueError):
    """A scenario that cannot be used; carries every problem found (field path and line)."""

    def __init__(self, source: str, problems: Sequence[LayoutProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p.describe(source)}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"{source}: {count} problem{'s' if count != 1 else ''}\n{lines}")


def load_scenario(path: str | Path, plant: Plant | None = None) -> ScenarioFile:
    """Read and check a scenario file (and, given the plant, its references to the plant)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioInvalid(source, [LayoutProblem((), f"cannot read the file: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ScenarioInvalid(source, [LayoutProblem((), "cannot read the file: not UTF-8")]) from exc
    return parse_scenario(text, source=source, plant=plant)


def parse_scenario(text: str, source: str = "<text>", plant: Plant | None = None) -> ScenarioFile:
    try:
        raw = yaml.load(text, Loader=StrictYamlLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        raise ScenarioInvalid(source, [LayoutProblem((), f"YAML syntax error: {problem}", line)]) from None
    if not isinstance(raw, dict):
        kind = type(raw).__name__ if raw is not None else "an empty document"
        raise ScenarioInvalid(source, [LayoutProblem((), f"expected a mapping at the top, found {kind}", 1)])
    try:
        scenario = ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        problems = pydantic_problems(exc.errors(include_url=False), raw)
        raise ScenarioInvalid(source, with_lines(problems, text)) from None
    problems = check_scenario(scenario, plant)
    if problems:
        raise ScenarioInvalid(source, with_lines(problems, text))
    return scenario


def scenario_from_mapping(
    raw: Mapping[str, Any], source: str = "<scenario>", plant: Plant | None = None
) -> ScenarioFile:
    """A scenario from plain data (overrides, tests); the same checks as a file."""
    try:
        scenario = ScenarioFile.model_validate(dict(raw))
    except ValidationError as exc:
        raise ScenarioInvalid(source, pydantic_problems(exc.errors(include_url=False), raw)) from None
    problems = check_scenario(scenario, plant)
    if problems:
        raise ScenarioInvalid(source, problems)
    return scenario


def check_scenario(scenario: ScenarioFile, plant: Plant | None) -> list[LayoutProblem]:
    """Cross-field rules: calendars named exist; with a plant, stations, stores, handovers and ids exist."""
    problems: list[LayoutProblem] = []

    def bad(path: tuple[PathPart, ...], message: str) -> None:
        problems.append(LayoutProblem(path, message))

    entries: list[tuple[tuple[PathPart, ...], Any]] = [
        (("sources", i), s) for i, s in enumerate(scenario.sources)
    ]
    entries += [(("demand", "retrievals", i), r) for i, r in enumerate(scenario.demand.retrievals)]
    entries += [(("demand", "shipments", i), s) for i, s in enumerate(scenario.demand.shipments)]
    ids: dict[str, tuple[PathPart, ...]] = {}
    for path, entry in entries:
        if entry.id in ids:
            bad((*path, "id"), f"id '{entry.id}' is used twice (also at {format_path(ids[entry.id])})")
        ids[entry.id] = path
        if entry.calendar is not None and entry.calendar not in scenario.calendars:
            known = ", ".join(sorted(scenario.calendars)) or "none defined"
            bad((*path, "calendar"), f"unknown calendar '{entry.calendar}' (calendars: {known})")
    if scenario.run.warmup_hours >= scenario.run.hours:
        bad(
            ("run", "warmup_hours"),
            f"warm-up ({scenario.run.warmup_hours} h) must be shorter than the run ({scenario.run.hours} h)",
        )
    if plant is None:
        return problems
    stations = {s.id: s for s in plant.stations}
    stores = {s.id: s for s in plant.stores}
    for path, entry in entries:
        if isinstance(entry, Shipments):
            for k, dock in enumerate(entry.docks):
                if dock not in stations:
                    bad(
                        (*path, "docks", k),
                        f"unknown station '{dock}' (stations: {', '.join(sorted(stations))})",
                    )
        else:
            station = stations.get(entry.station)
            if station is None:
                bad(
                    (*path, "station"),
                    f"unknown station '{entry.station}' (stations: {', '.join(sorted(stations))})",
                )
            elif entry.handover is not None and entry.handover not in station.handovers:
                bad(
                    (*path, "handover"),
                    f"'{entry.handover}' is not a handover of station {station.id} ({', '.join(station.handovers)})",
                )
        store = stores.get(entry.store)
        if store is None:
            bad((*path, "store"), f"unknown store '{entry.store}' (stores: {', '.join(sorted(stores))})")
        else:
            problems += _unit_kind_problems(path, entry, isinstance(store, plant_schema.IngotStore))
    for store_id in scenario.initial_stock:
        if store_id not in stores:
            bad(
                ("initial_stock", store_id),
                f"unknown store '{store_id}' (stores: {', '.join(sorted(stores))})",
            )
    vehicle_classes = set(plant.vehicle_classes)
    for cls in scenario.breakdowns.classes:
        if cls not in vehicle_classes:
            bad(
                ("breakdowns", "classes", cls),
                f"unknown vehicle class '{cls}' (classes: {', '.join(sorted(vehicle_classes))})",
            )
    units = set(plant.vehicles) | {c.id for _, c in plant.overhead_cranes()} | set(plant.stacker_cranes)
    for unit in scenario.breakdowns.units:
        if unit not in units:
            bad(("breakdowns", "units", unit), f"unknown vehicle or crane '{unit}'")
    return problems


def _unit_kind_problems(path: tuple[PathPart, ...], entry: Any, ingot_store: bool) -> list[LayoutProblem]:
    """Slabs to and from ingot stores, coils elsewhere: attributes and filters must fit the store."""
    found: list[LayoutProblem] = []
    if isinstance(entry, Source):
        if ingot_store and "attributes" in entry.model_fields_set:
            found.append(
                LayoutProblem(
                    (*path, "attributes"),
                    f"store '{entry.store}' is an ingot store: its source makes slabs; "
                    "describe them under 'slab' (alloy, width_m, length_m, thickness_m, weight_t)",
                )
            )
        if not ingot_store and entry.slab is not None:
            found.append(
                LayoutProblem(
                    (*path, "slab"),
                    f"store '{entry.store}' takes coils; 'slab' attributes belong to sources into ingot stores",
                )
            )
    elif isinstance(entry, Shipments) and ingot_store:
        found.append(
            LayoutProblem(
                (*path, "store"), f"store '{entry.store}' is an ingot store; trucks take coils only"
            )
        )
    elif isinstance(entry, Retrieval) and ingot_store and entry.temper is not None:
        found.append(
            LayoutProblem(
                (*path, "temper"),
                f"store '{entry.store}' holds slabs, which have no temper (filter on alloy)",
            )
        )
    return found


def default_scenario(plant: Plant) -> ScenarioFile:
    """A scenario for a plant without one: no arrivals or demand, only the run settings."""
    return ScenarioFile.model_validate({"scenario": {"id": f"{plant.id}-default"}})
