"""Shift calendars: when a source produces or a demand asks. Simulated time 0 is Monday 00:00."""

from __future__ import annotations

from simulation.scenario import WEEKDAYS, Calendar

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S


def is_open(calendar: Calendar, t: float) -> bool:
    day = WEEKDAYS[int(t // DAY_S) % 7]
    hour = (t % DAY_S) / 3600.0
    return day in calendar.days and any(s.start_h <= hour < s.end_h for s in calendar.shifts)


def next_open(calendar: Calendar, t: float) -> float:
    """`t` if the calendar is open then, else the start of its next shift (at most a week ahead)."""
    if is_open(calendar, t):
        return t
    day_start = (t // DAY_S) * DAY_S
    for k in range(8):
        start_of_day = day_start + k * DAY_S
        if WEEKDAYS[int(start_of_day // DAY_S) % 7] not in calendar.days:
            continue
        for shift in sorted(calendar.shifts, key=lambda s: s.start_h):
            begin = start_of_day + shift.start_h * 3600.0
            if begin >= t:
                return begin
    return t + WEEK_S  # pragma: no cover - a calendar always has a shift on some day
