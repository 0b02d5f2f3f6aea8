"""Labels (PDF and ZPL, Code 128 and QR) and RFID tags bound to coils, over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from coilyard.api import create_app
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


@pytest.mark.parametrize("code", ["code128", "qr"])
def test_coil_label_pdf_carries_the_id(api: Api, code: str) -> None:
    receive(api, "K-4711")
    reply = api.get("/api/labels/coils/K-4711.pdf", code=code)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.content.startswith(b"%PDF-") and reply.content.rstrip().endswith(b"%%EOF")
    assert b"(K-4711)" in reply.content  # the ID as text on the page (uncompressed)
    assert b"/Title (K-4711)" in reply.content


def test_location_label_pdf_and_a_whole_store(api: Api) -> None:
    one = api.get("/api/labels/locations/FS1-B1-R01-P03-G.pdf")
    assert one.status_code == 200 and b"(FS1-B1-R01-P03-G)" in one.content
    every = api.get("/api/labels/stores/IS1/locations.pdf", code="qr")
    assert every.status_code == 200
    assert len(re.findall(rb"/Type /Page\b", every.content)) == 5  # IS1 has five stack positions


def test_zpl_code128_and_qr(api: Api) -> None:
    receive(api, "K-4711")
    code128 = api.get("/api/labels/coils/K-4711.zpl").text
    assert code128.startswith("^XA") and code128.rstrip().endswith("^XZ")
    assert re.search(r"\^BCN,\d+,N,N,N\^FDK-4711\^FS", code128)
    qr = api.get("/api/labels/locations/FS1-B1-R01-P03-G.zpl", code="qr").text
    assert "^BQN,2," in qr and "^FDQA,FS1-B1-R01-P03-G^FS" in qr


def test_zpl_text_cannot_inject_commands(api: Api) -> None:
    receive(api, "K9", customer="ACME ^XZ~JR")
    zpl = api.get("/api/labels/coils/K9.zpl").text
    assert zpl.count("^XZ") == 1 and "~JR" not in zpl


def test_labels_of_unknown_things_are_404_naming_them(api: Api) -> None:
    reply = api.get("/api/labels/coils/NOPE.pdf")
    assert reply.status_code == 404 and "NOPE" in reply.json()["detail"]
    assert api.get("/api/labels/locations/NOWHERE.zpl").status_code == 404
    assert api.get("/api/labels/stores/XX/locations.pdf").status_code == 404
    assert api.get("/api/labels/coils/K1.png").status_code == 422


def test_rfid_bind_then_scan_by_tag(api: Api) -> None:
    receive(api, "K1")
    bound = api.post("/api/labels/rfid", Role.OPERATOR, {"tag": "E2801160600002", "coil": "K1"})
    assert bound.status_code == 201, bound.text
    assert bound.json()["bound_by"] == "u-operator"
    assert api.get("/api/labels/rfid/E2801160600002").json()["coil"] == "K1"
    scanned = api.get("/api/terminal/scan/E2801160600002").json()
    assert (scanned["kind"], scanned["coil"], scanned["location"]) == ("tag", "K1", "H-FS1")
    again = api.post("/api/labels/rfid", Role.OPERATOR, {"tag": "E2801160600002", "coil": "K1"})
    assert again.status_code == 201 and again.json()["bound_at"] == bound.json()["bound_at"]  # a retry: no-op


def test_rfid_refusals(api: Api) -> None:
    receive(api, "K1")
    receive(api, "K2")
    assert api.post("/api/labels/rfid", Role.OPERATOR, {"tag": "T1", "coil": "NOPE"}).status_code == 404
    assert api.post("/api/labels/rfid", Role.OPERATOR, {"tag": "T1", "coil": "K1"}).status_code == 201
    taken = api.post("/api/labels/rfid", Role.OPERATOR, {"tag": "T1", "coil": "K2"})
    assert taken.status_code == 409 and "bound to coil 'K1'" in taken.json()["detail"]
    assert api.client.delete("/api/labels/rfid/T1", headers=api.headers(Role.OPERATOR)).status_code == 403
    assert api.client.delete("/api/labels/rfid/T1", headers=api.headers(Role.SUPERVISOR)).status_code == 204
    assert api.get("/api/labels/rfid/T1").status_code == 404
    assert api.get("/api/terminal/scan/T1").json()["kind"] == "unknown"
