"""The live yard view in headless Chromium: a vehicle moves on the plan when its position is reported,
stock shading follows the ledger, and an alert is acknowledged from the alerts panel."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from coilyard.api.security import Role
from coilyard.live import LiveFleet
from fleet.core import FleetCore
from fleet.fake_vehicle import CannotStep, FakeFleet, FakeVehicle
from layout import load_plant
from tests.browser_harness import PASSWORD, TINY, LiveApp, chromium, running_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveApp]:
    with running_app(tmp_path) as served:
        yield served


@pytest.fixture
def screen(browser: Browser, live: LiveApp) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live.url}/live")
    page.fill("#user", "supervisor")
    page.fill("#password", PASSWORD)
    page.click(".login-overlay button[type=submit]")
    page.wait_for_function("document.body.dataset.stream === 'live'")
    yield page
    context.close()
    assert errors == []  # no script error on the page


def position(page: Page, vehicle: str) -> tuple[float, float]:
    g = page.locator(f"#vehicle-{vehicle}")
    return float(g.get_attribute("data-x") or "nan"), float(g.get_attribute("data-y") or "nan")


def test_the_live_view_shows_a_vehicle_move(live: LiveApp, screen: Page) -> None:
    home = position(screen, "AGV-01")
    assert home == (100.0, 27.0)  # parked at P1
    transform_before = screen.locator("#vehicle-AGV-01").evaluate("g => g.style.transform")
    for node in ("W5", "W4", "W3"):  # the gateway reports progress node by node
        reply = live.post(
            "/api/terminal/vehicles/AGV-01/report", {"node": node, "state": "moving"}, Role.VEHICLE
        )
        assert reply.status_code == 200, reply.text
    screen.wait_for_function(
        "document.querySelector('#vehicle-AGV-01').dataset.x === '52'", timeout=10_000
    )  # W3 is at (52, 27)
    assert position(screen, "AGV-01") == (52.0, 27.0)
    assert screen.locator("#vehicle-AGV-01").evaluate("g => g.style.transform") != transform_before
    expect(screen.locator("#vehicle-table tr[data-vehicle='AGV-01']")).to_contain_text("moving")
    box = screen.locator("#vehicle-AGV-01 rect").bounding_box()
    assert box is not None and box["width"] > 5  # drawn, not collapsed


def test_stock_shading_follows_the_ledger(live: LiveApp, screen: Page) -> None:
    place = screen.locator("#pos-FS1-B1-R01-P03-G")
    expect(place).to_have_attribute("data-occupied", "0")
    live.receive("K200")
    reply = live.post(
        "/api/wms/moves/direct", {"unit": "K200", "target": "FS1-B1-R01-P03-G", "carrier": "C1"}
    )
    assert reply.status_code == 201, reply.text
    expect(place).to_have_attribute("data-occupied", "1", timeout=10_000)
    expect(screen.locator("#stores [data-store='FS1']")).to_contain_text("1/30")


def test_an_alert_appears_live_and_is_acknowledged_by_a_person(live: LiveApp, screen: Page) -> None:
    reply = live.post(
        "/api/terminal/vehicles/AGV-02/report", {"state": "error", "error": "bumper hit"}, Role.VEHICLE
    )
    assert reply.status_code == 200, reply.text
    card = screen.locator(".alert", has_text="AGV-02")
    expect(card).to_contain_text("bumper hit", timeout=15_000)
    expect(screen.locator("#vehicle-AGV-02")).to_have_attribute("data-state", "error")
    card.locator("button.ack").click()
    expect(card).to_have_attribute("data-state", "acknowledged")
    alerts = live.get("/api/alerts")
    assert [(a["rule"], a["state"], a["acknowledged_by"]) for a in alerts] == [
        ("vehicle-error", "acknowledged", "supervisor")
    ]
    expect(screen.locator("#alert-chart-svg rect[data-severity='critical']")).to_have_count(1)


def test_a_vehicle_driven_by_the_fleet_shell_moves_on_the_plan(browser: Browser, tmp_path: Path) -> None:
    plant = load_plant(TINY)
    fakes = FakeFleet({vid: FakeVehicle(vid, v.home) for vid, v in plant.vehicles.items()})
    with running_app(tmp_path, fleet=LiveFleet(FleetCore(plant), fakes, poll_interval=0.01)) as live:
        context = browser.new_context(viewport={"width": 1400, "height": 850})
        page = context.new_page()
        page.goto(f"{live.url}/live")
        page.fill("#user", "supervisor")
        page.fill("#password", PASSWORD)
        page.click(".login-overlay button[type=submit]")
        page.wait_for_function("document.body.dataset.stream === 'live'")
        reply = live.post(
            "/api/fleet/orders", {"order": "T1", "destinations": [{"node": "W3"}]}, Role.SUPERVISOR
        )
        assert reply.status_code == 201, reply.text
        deadline = time.monotonic() + 10
        while (vehicle := live.get("/api/fleet/orders/T1")["vehicle"]) is None:
            assert time.monotonic() < deadline, "the fleet core assigned no vehicle"
            time.sleep(0.05)
        start = position(page, vehicle)
        fake = fakes.vehicles[vehicle]
        while fake.node != "W3":  # drive it: the fake reports each node it enters to the fleet shell
            assert time.monotonic() < deadline + 20, f"{vehicle} got stuck at {fake.node}"
            with contextlib.suppress(CannotStep):  # waiting for traffic control to release more nodes
                assert live.loop is not None
                live.on_loop(lambda: fake.step(live.loop.time()))  # type: ignore[union-attr]
            time.sleep(0.05)
        page.wait_for_function(
            f"document.querySelector('#vehicle-{vehicle}').dataset.x === '52'", timeout=10_000
        )  # W3 is at (52, 27)
        assert position(page, vehicle) == (52.0, 27.0) != start
        context.close()
