"""The handheld terminal in real headless Chromium against a real uvicorn: putaway by scanner keystrokes,
the offline outbox (applied exactly once), manual entry, refusals in red, and the 360 px layout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from coilyard.api.security import Role
from tests.browser_harness import PASSWORD, LiveApp, chromium, running_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveApp]:
    with running_app(tmp_path) as served:
        yield served


def log_in(page: Page, live: LiveApp, user: str = "operator") -> None:
    page.goto(f"{live.url}/terminal")
    page.fill("#user", user)
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    expect(page.locator("#go-putaway")).to_be_visible()


def scan(page: Page, code: str) -> None:
    """A keyboard-wedge scanner: the code typed at machine speed, then Enter, with no field focused."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def feedback(page: Page, kind: str, text: str) -> None:
    box = page.locator("#feedback")
    expect(box).to_have_attribute("data-kind", kind)
    expect(box).to_contain_text(text)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A 360 px phone; service workers blocked so that request routing sees every request. A script error on
    the page fails the test."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, service_workers="block")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def propose(page: Page, coil: str) -> str:
    page.click("#go-putaway")
    expect(page.locator("#putaway")).to_be_visible()
    scan(page, coil)
    target = page.locator("#p-target")
    expect(target).to_be_visible()
    return target.inner_text().strip()


def test_a_full_putaway_by_scanner_input(live: LiveApp, phone: Page) -> None:
    live.receive("K100")
    log_in(phone, live)
    target = propose(phone, "K100")
    assert phone.evaluate("document.body.dataset.lastScan") == "scanner:K100"  # the wedge, not a field
    assert target.startswith("FS1-")
    assert live.get("/api/wms/coils/K100")["location"] == "H-FS1"  # proposed, not yet moved
    scan(phone, target)
    feedback(phone, "ok", f"Stored K100 at {target}")
    where = live.get("/api/wms/coils/K100")
    assert where["location"] == target and where["move"] is None
    assert live.history("K100") == ["CoilReceived", "MovePlanned", "MoveStarted", "MoveCompleted"]


def test_scanning_the_wrong_position_is_refused_in_red_and_changes_nothing(
    live: LiveApp, phone: Page
) -> None:
    live.receive("K101")
    log_in(phone, live)
    target = propose(phone, "K101")
    wrong = "FS1-B1-R02-P08-G" if target != "FS1-B1-R02-P08-G" else "FS1-B1-R02-P07-G"
    scan(phone, wrong)
    feedback(phone, "bad", f"Wrong position {wrong}")
    assert live.get("/api/wms/coils/K101")["location"] == "H-FS1"
    scan(phone, target)  # the right one still works afterwards
    feedback(phone, "ok", "Stored K101")


def test_offline_scan_then_online_is_applied_exactly_once(live: LiveApp, phone: Page) -> None:
    live.receive("K102")
    log_in(phone, live)
    target = propose(phone, "K102")
    phone.context.set_offline(True)
    expect(phone.locator("#net")).to_have_text("offline")
    scan(phone, target)
    feedback(phone, "wait", "Saved on this device")
    expect(phone.locator("#pending")).to_have_attribute("data-count", "1")
    assert live.get("/api/wms/coils/K102")["location"] == "H-FS1"  # nothing reached the service
    phone.context.set_offline(False)  # the `online` event replays the outbox
    expect(phone.locator("#pending")).to_have_attribute("data-count", "0", timeout=15_000)
    feedback(phone, "ok", "Sent: put away K102")
    assert live.get("/api/wms/coils/K102")["location"] == target
    assert live.history("K102").count("MoveCompleted") == 1
    phone.evaluate(
        "() => import('/ui/js/outbox.js').then((o) => o.replay())"
    )  # a second replay: nothing left
    assert live.history("K102") == ["CoilReceived", "MovePlanned", "MoveStarted", "MoveCompleted"]


def test_a_lost_reply_is_replayed_with_its_key_and_applied_once(live: LiveApp, phone: Page) -> None:
    live.receive("K103")
    log_in(phone, live)
    phone.click("#go-move")
    lost: list[str] = []

    def apply_then_drop_the_reply(route: Route) -> None:
        route.fetch()  # the service applies the move...
        lost.append(route.request.headers["idempotency-key"])
        route.abort()  # ...but the terminal never hears back

    phone.route("**/api/wms/moves/direct", apply_then_drop_the_reply)
    scan(phone, "K103")
    expect(phone.locator("#m-coil")).to_contain_text("K103")
    scan(phone, "FS1-B1-R01-P03-G")
    feedback(phone, "wait", "Saved on this device")
    assert live.get("/api/wms/coils/K103")["location"] == "FS1-B1-R01-P03-G"  # applied once already
    phone.unroute("**/api/wms/moves/direct")
    sent: list[str] = []
    phone.on(
        "request",
        lambda r: sent.append(r.headers.get("idempotency-key", "")) if "moves/direct" in r.url else None,
    )
    phone.evaluate("() => import('/ui/js/outbox.js').then((o) => o.replay())")
    expect(phone.locator("#pending")).to_have_attribute("data-count", "0", timeout=15_000)
    assert sent and set(sent) == set(lost) and len(set(lost)) == 1  # the same key, every time
    assert live.history("K103").count("MoveCompleted") == 1
    assert live.get("/api/wms/coils/K103")["location"] == "FS1-B1-R01-P03-G"


def test_manual_entry_when_the_label_will_not_scan(live: LiveApp, phone: Page) -> None:
    live.receive("K104")
    log_in(phone, live)
    phone.click("#go-lookup")
    field = phone.locator("input[data-scan]")
    field.click()
    field.press_sequentially("K104", delay=150)  # a person typing: no scan
    assert phone.evaluate("document.body.dataset.lastScan") is None
    phone.click("form.scanform button[type=submit]")
    expect(phone.locator("#l-coil")).to_contain_text("H-FS1")
    assert phone.evaluate("document.body.dataset.lastScan") == "manual:K104"


def test_an_rfid_tag_works_where_a_coil_is_scanned(live: LiveApp, phone: Page) -> None:
    live.receive("K105")
    assert live.post("/api/labels/rfid", {"tag": "E28011606000020", "coil": "K105"}).status_code == 201
    log_in(phone, live)
    target = propose(phone, "E28011606000020")
    expect(phone.locator("#p-proposal")).to_contain_text("K105")
    scan(phone, target)
    feedback(phone, "ok", "Stored K105")


def test_a_refusal_is_red_and_names_the_problem(live: LiveApp, phone: Page) -> None:
    log_in(phone, live)
    phone.click("#go-putaway")
    scan(phone, "NO-SUCH-COIL")
    feedback(phone, "bad", "NO-SUCH-COIL")


@pytest.mark.parametrize(
    "page_name", ["menu", "receive", "putaway", "move", "retrieve", "count", "hold", "lookup"]
)
def test_every_page_fits_a_360_px_screen(live: LiveApp, phone: Page, page_name: str) -> None:
    log_in(phone, live)
    phone.goto(f"{live.url}/ui/handheld.html#{page_name}")
    phone.wait_for_function(f"document.body.dataset.page === '{page_name}'")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    for button in phone.locator("main button:visible, nav a").all():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44, f"{page_name}: a touch target is {box}"


def test_receive_then_a_count_that_differs_from_the_books(live: LiveApp, phone: Page) -> None:
    log_in(phone, live)
    phone.click("#go-receive")
    scan(phone, "K300")
    scan(phone, "H-FS1")
    phone.fill("#r-weight", "12.5")
    phone.click("#receive-send")
    feedback(phone, "ok", "Received K300 at H-FS1")
    assert live.get("/api/wms/coils/K300")["weight_t"] == 12.5
    phone.click("#menu-link")
    phone.click("#go-count")
    scan(phone, "FS1-B1-R01-P01-G")
    scan(phone, "K300")  # seen there, but the books say the place is empty
    expect(phone.locator("#c-seen")).to_contain_text("K300")
    phone.click("#c-finish")
    feedback(phone, "bad", "differs from the books")
    [found] = live.get("/api/wms/counts/discrepancies")
    assert (found["location"], found["observed"], found["actor"]) == (
        "FS1-B1-R01-P01-G",
        ["K300"],
        "operator",
    )


def test_hold_and_release(live: LiveApp, phone: Page) -> None:
    live.receive("K301")
    log_in(phone, live, "supervisor")
    phone.click("#go-hold")
    scan(phone, "K301")
    phone.select_option("#h-kind", "damage")
    phone.fill("#h-reason", "dented edge")
    phone.click("#h-form button[type=submit]")
    feedback(phone, "ok", "K301 is on hold")
    [hold] = live.get("/api/wms/coils/K301")["holds"]
    assert "damage: dented edge" in hold
    phone.click(f"button[data-hold='{hold.split()[0]}']")
    feedback(phone, "ok", "Released")
    assert live.get("/api/wms/coils/K301")["holds"] == []


def test_a_planned_retrieval_is_done_by_scanning(live: LiveApp, phone: Page) -> None:
    live.receive("K302")
    moved = live.post(
        "/api/wms/moves/direct", {"unit": "K302", "target": "FS1-B1-R01-P03-G", "carrier": "C1"}
    )
    assert moved.status_code == 201, moved.text
    planned = live.post("/api/wms/retrievals", {"coils": ["K302"], "destination": "H-FS1"}, Role.SUPERVISOR)
    assert planned.status_code == 201, planned.text
    log_in(phone, live)
    phone.click("#go-retrieve")
    expect(phone.locator("#r-moves")).to_contain_text("K302")
    scan(phone, "K302")
    expect(phone.locator("#r-chosen")).to_contain_text("H-FS1")
    scan(phone, "H-FS1")
    feedback(phone, "ok", "K302 is at H-FS1")
    assert live.get("/api/wms/coils/K302")["location"] == "H-FS1"


def test_cancelling_a_putaway_frees_the_proposed_place(live: LiveApp, phone: Page) -> None:
    live.receive("K106")
    log_in(phone, live)
    target = propose(phone, "K106")
    assert live.get(f"/api/wms/locations/{target}")["reserved_by"] is not None
    phone.click("#p-cancel")
    feedback(phone, "ok", f"{target} is free again")
    assert live.get(f"/api/wms/locations/{target}")["reserved_by"] is None
    assert live.get("/api/wms/coils/K106")["location"] == "H-FS1"


def test_the_terminal_opens_again_without_network(live: LiveApp, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, service_workers="allow")
    page = context.new_page()
    log_in(page, live)
    page.wait_for_function("navigator.serviceWorker.controller !== null")  # the shell is cached
    context.set_offline(True)
    page.reload()
    expect(page.locator("#go-putaway")).to_be_visible()
    expect(page.locator("#net")).to_have_text("offline")
    context.close()
