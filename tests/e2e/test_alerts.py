"""Alerts over HTTP: rules raise alerts from the yard, the fleet and position reports; a person acknowledges,
a supervisor closes once the condition cleared; counts over time; rule files are checked."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from coilyard.api import create_app
from coilyard.api.alerts import (
    AlertBook,
    AlertRefused,
    AlertState,
    Condition,
    RuleKind,
    Severity,
    UnknownAlert,
    load_rules,
)
from coilyard.api.security import Role
from coilyard.settings import Settings
from tests.api_harness import Api, receive, sign_in_every_role

pytestmark = pytest.mark.e2e
TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny.yaml"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'api.db'}", layout=TINY, runs_dir=tmp_path / "runs"
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(app, client, sign_in_every_role(client, app))


def rules(api: Api, *items: dict[str, Any]) -> None:
    reply = api.client.put(
        "/api/alerts/rules", json={"rules": list(items)}, headers=api.headers(Role.SUPERVISOR)
    )
    assert reply.status_code == 200, reply.text


def alerts(api: Api, state: str = "active") -> list[dict[str, Any]]:
    reply = api.get("/api/alerts", state=state)
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()
    return found


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the alert monitor did not get there in time"
        time.sleep(0.1)


def store_coil(api: Api, coil: str, place: str) -> None:
    receive(api, coil)
    reply = api.post("/api/wms/moves/direct", Role.OPERATOR, {"unit": coil, "target": place, "carrier": "C1"})
    assert reply.status_code == 201, reply.text


def test_store_fill_alert_is_raised_acknowledged_cleared_and_closed(api: Api) -> None:
    store_coil(api, "K1", "FS1-B1-R01-P03-G")  # 1 of 30 places in FS1
    rules(api, {"id": "fs1-busy", "kind": "store_fill_above", "threshold": 0.02, "stores": ["FS1"]})
    [alert] = alerts(api)
    assert (alert["rule"], alert["subject"], alert["state"]) == ("fs1-busy", "FS1", "open")
    assert "3% full" in alert["message"] and alert["cleared_at"] is None

    refused = api.post(f"/api/alerts/{alert['id']}/close", Role.SUPERVISOR, {"note": ""})
    assert refused.status_code == 409 and "acknowledge it first" in refused.json()["detail"]
    ack = api.post(f"/api/alerts/{alert['id']}/acknowledge", Role.OPERATOR, {"note": "calling the crane"})
    assert ack.status_code == 200, ack.text
    assert (ack.json()["state"], ack.json()["acknowledged_by"]) == ("acknowledged", "u-operator")
    still = api.post(f"/api/alerts/{alert['id']}/close", Role.SUPERVISOR, {"note": ""})
    assert still.status_code == 409 and "still holds" in still.json()["detail"]

    rules(api, {"id": "fs1-busy", "kind": "store_fill_above", "threshold": 0.5, "stores": ["FS1"]})
    [cleared] = alerts(api)
    assert cleared["cleared_at"] is not None and cleared["state"] == "acknowledged"
    assert api.post(f"/api/alerts/{alert['id']}/close", Role.OPERATOR, {"note": ""}).status_code == 403
    closed = api.post(f"/api/alerts/{alert['id']}/close", Role.SUPERVISOR, {"note": "cleared by shipping"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["closed_by"]) == ("closed", "u-supervisor")
    assert alerts(api) == [] and [a["id"] for a in alerts(api, "closed")] == [alert["id"]]

    counts = api.get("/api/alerts/counts", hours=1, buckets=6).json()
    assert sum(counts["raised"]["warning"]) == 1 and counts["unclosed"][-1] == 0


def test_a_vehicle_error_report_raises_a_critical_alert(api: Api) -> None:
    reply = api.post(
        "/api/terminal/vehicles/AGV-01/report", Role.VEHICLE, {"state": "error", "error": "laser scanner"}
    )
    assert reply.status_code == 200, reply.text
    eventually(lambda: any(a["rule"] == "vehicle-error" for a in alerts(api)))
    [alert] = [a for a in alerts(api) if a["rule"] == "vehicle-error"]
    assert (
        alert["severity"] == "critical"
        and "AGV-01" in alert["message"]
        and "laser scanner" in alert["message"]
    )
    api.post("/api/terminal/vehicles/AGV-01/report", Role.VEHICLE, {"state": "idle"})
    eventually(lambda: all(a["cleared_at"] is not None for a in alerts(api) if a["rule"] == "vehicle-error"))


def test_low_battery_from_an_energy_report(api: Api) -> None:
    api.post("/api/terminal/vehicles/AGV-02/report", Role.VEHICLE, {"energy_kwh": 12.0})  # 10 % of 120 kWh
    eventually(lambda: any(a["rule"] == "low-battery" and a["subject"] == "AGV-02" for a in alerts(api)))


def test_cooling_overdue_blocked_arrival_and_late_order(api: Api) -> None:
    receive(api, "K7")  # waits at H-FS1 with no move
    hold = api.post("/api/wms/coils/K7/holds", Role.SUPERVISOR, {"kind": "cooling", "reason": "hot"})
    assert hold.status_code == 201, hold.text
    order = api.post(
        "/api/fleet/orders", Role.PLANNER,
        {"order": "T1", "destinations": [{"node": "DOCK1"}], "deadline": time.time() - 600},
    )  # fmt: skip
    assert order.status_code == 201, order.text
    rules(
        api,
        {"id": "cool", "kind": "cooling_overdue", "threshold": 0.0},
        {"id": "stuck", "kind": "blocked_arrival", "threshold": 0.0},
        {"id": "late", "kind": "order_late", "threshold": 60.0},
    )
    eventually(lambda: {a["rule"] for a in alerts(api)} == {"cool", "stuck", "late"})
    subjects = {a["rule"]: a["subject"] for a in alerts(api)}
    assert subjects == {"cool": "K7", "stuck": "K7", "late": "T1"}


def test_rules_are_checked_and_refusals_name_the_field(api: Api, tmp_path: Path) -> None:
    bad = api.client.put(
        "/api/alerts/rules", json={"rules": [{"id": "x", "kind": "store_on_fire"}]},
        headers=api.headers(Role.SUPERVISOR),
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "body.rules.0.kind"
    twice = api.client.put(
        "/api/alerts/rules", json={"rules": [{"id": "a", "kind": "vehicle_error"}, {"id": "a", "kind": "low_battery"}]},
        headers=api.headers(Role.SUPERVISOR),
    )  # fmt: skip
    assert twice.status_code == 422 and "used twice" in twice.json()["detail"]
    assert (
        api.client.put(
            "/api/alerts/rules", json={"rules": []}, headers=api.headers(Role.OPERATOR)
        ).status_code
        == 403
    )
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {id: full, kind: store_fill_above, threshold: -1}\n")
    with pytest.raises(ValueError, match=r"rules.yaml: rules.0.threshold"):
        load_rules(path)
    path.write_text("rules:\n  - {id: full, kind: store_fill_above, threshold: 0.8, severity: critical}\n")
    assert load_rules(path).rules[0].severity is Severity.CRITICAL


def test_unknown_alert_is_404(api: Api) -> None:
    reply = api.post("/api/alerts/999/acknowledge", Role.OPERATOR, {"note": ""})
    assert reply.status_code == 404 and "999" in reply.json()["detail"]


def test_the_book_raises_once_per_condition_and_reopens_a_returning_one() -> None:
    book = AlertBook()
    hot = Condition("r", RuleKind.STORE_FILL_ABOVE, "FS1", Severity.WARNING, "full")
    assert [a.id for a in book.apply([hot], 1.0)] == [1]
    assert book.apply([hot], 2.0) == []  # still holding: nothing new
    [cleared] = book.apply([], 3.0)
    assert cleared.cleared_at == 3.0
    [back] = book.apply([hot], 4.0)
    assert back.id == 1 and back.cleared_at is None  # the same alert, not a second one
    book.acknowledge(1, "ann", 5.0)
    book.apply([], 6.0)
    book.close(1, "bob", 7.0)
    [fresh] = book.apply([hot], 8.0)
    assert fresh.id == 2  # after closing, a new occurrence is a new alert


def test_a_bad_rule_file_stops_start_up_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {id: full, kind: store_fill_above, threshold: lots}\n")
    monkeypatch.setenv("COILYARD_ALERT_RULES", str(path))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'api.db'}", layout=TINY, runs_dir=tmp_path / "runs"
    )
    with pytest.raises(
        SystemExit, match=r"COILYARD_ALERT_RULES: alert rules .*rules.yaml: rules.0.threshold"
    ):
        create_app(settings)


KEYS = st.tuples(st.sampled_from(["r1", "r2"]), st.sampled_from(["FS1", "HB1", "AGV-01"]))


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("apply"), st.sets(KEYS, max_size=4)),
            st.tuples(st.sampled_from(["ack", "close"]), st.integers(1, 12)),
        ),
        max_size=30,
    )
)
def test_the_book_keeps_one_unclosed_alert_per_condition(steps: list[tuple[str, Any]]) -> None:
    book = AlertBook()
    for at, (action, arg) in enumerate(steps):
        if action == "apply":
            conditions = [
                Condition(r, RuleKind.VEHICLE_ERROR, s, Severity.WARNING, f"{r} {s}") for r, s in arg
            ]
            book.apply(conditions, float(at))
            assert set(book.unclosed()) >= set(arg)  # every holding condition has an unclosed alert
        else:
            with contextlib.suppress(AlertRefused, UnknownAlert):
                (book.acknowledge if action == "ack" else book.close)(arg, "ann", float(at))
        unclosed = [a.key for a in book.alerts.values() if a.state is not AlertState.CLOSED]
        assert len(unclosed) == len(set(unclosed))  # never two unclosed alerts for one (rule, subject)
        closed = [a for a in book.alerts.values() if a.state is AlertState.CLOSED]
        assert all(a.acknowledged_by and a.cleared_at is not None for a in closed)  # closed only when both
