"""Human names for KPIs and one way to print numbers, shared by the run report and the sweep report."""

from __future__ import annotations

import math

KPI_LABELS: dict[str, str] = {
    "moves_completed": "Moves completed",
    "throughput_per_hour": "Throughput",
    "task_lead_time_p50_s": "Task lead time, median",
    "task_lead_time_p95_s": "Task lead time, 95th percentile",
    "vehicle_utilisation": "Vehicle utilisation",
    "crane_utilisation": "Crane utilisation",
    "relocations_per_retrieval": "Relocations per retrieval",
    "storage_utilisation": "Storage utilisation",
    "blocked_arrival_time_s": "Arrivals blocked (time)",
    "shipments_on_time_rate": "Shipments on time",
    "energy_per_move_kwh": "Energy per move",
    "vehicle_wait_s": "Vehicle wait",
    "crane_wait_s": "Crane wait",
}

# The order a planner reads them in; KPIs not listed follow alphabetically.
KPI_ORDER = tuple(KPI_LABELS)


def kpi_label(name: str) -> str:
    return KPI_LABELS.get(name, name.replace("_", " ").capitalize())


def kpi_sort_key(name: str) -> tuple[int, str]:
    return (KPI_ORDER.index(name) if name in KPI_ORDER else len(KPI_ORDER), name)


def fmt(value: float, digits: int = 4) -> str:
    """`value` to `digits` significant digits, with thousands separators and no exponent for
    everyday magnitudes ('1,234', '0.8125', '12.5')."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 9 or magnitude < -5:
        return f"{value:.{digits - 1}e}"
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fmt_duration(seconds: float) -> str:
    """'1:05:00' for an hour and five minutes; seconds below a minute as '42 s'."""
    if abs(seconds) < 60:
        return f"{fmt(seconds, 3)} s"
    whole = round(seconds)
    hours, rest = divmod(abs(whole), 3600)
    minutes, secs = divmod(rest, 60)
    sign = "-" if whole < 0 else ""
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
