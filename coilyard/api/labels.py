"""Labels and RFID: coil and location labels as PDF (reportlab) or ZPL (Zebra), and RFID tags bound to coils.

A label carries the coil or position ID as a Code 128 or QR barcode, the ID in large type, and what a person
checks by eye (alloy, size, weight; or store and kind). Scanners read the barcode as the plain ID, so a label
scan and a typed ID are the same input. An RFID tag bound to a coil is accepted wherever a coil ID is
scanned (the terminal's scan resolver, coilyard/api/terminal.py, looks tags up here).

Bindings live in their own small table (``rfid_tags``, adapters/sql/terminal_tables.py, migration v0003).
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from adapters.sql import terminal_tables
from coilyard.api.deps import ID_PATTERN, App, Caller, allow
from coilyard.api.errors import ERROR_RESPONSES
from coilyard.api.security import Role
from wms.domain.errors import UnknownCoil, UnknownStore, WmsError
from wms.domain.yard import Yard

router = APIRouter(prefix="/api/labels", tags=["labels"], responses=ERROR_RESPONSES)
PathId = Annotated[str, Path(pattern=ID_PATTERN)]
BINDERS = (Role.OPERATOR, Role.SUPERVISOR, Role.INTEGRATION)

rfid_tags = terminal_tables.rfid_tags  # created by the alembic migration v0003


class Symbology(StrEnum):
    CODE128 = "code128"
    QR = "qr"


class TagBound(WmsError):
    """A tag already names another coil: unbind it first (a tag is one coil's, a coil may have several)."""

    def __init__(self, tag: str, coil: str) -> None:
        super().__init__(f"RFID tag '{tag}' is bound to coil '{coil}': unbind it first")
        self.tag = tag


class UnknownTag(UnknownCoil):
    """A 404 like an unknown coil (a tag is scanned where a coil ID is expected)."""

    def __init__(self, tag: str) -> None:
        WmsError.__init__(self, f"RFID tag '{tag}' is not bound to any coil")
        self.coil = tag
        self.tag = tag


# --------------------------------------------------------------------------------------------- content


@dataclass(frozen=True)
class LabelContent:
    """What one label shows: a title, the ID (barcoded), and a few lines of text."""

    title: str
    id: str
    lines: tuple[str, ...]


def coil_label(yard: Yard, coil_id: str) -> LabelContent:
    coil = yard.coil(coil_id)
    spec = coil.spec
    lines = [
        f"Alloy {spec.alloy}  temper {spec.temper}",
        f"{spec.width * 1000:.0f} mm x {spec.gauge:g} mm  OD {spec.outer_diameter:g} m",
        f"Weight {spec.weight:g} t",
    ]
    if spec.lot or spec.heat:
        lines.append(f"Lot {spec.lot or '-'}  heat {spec.heat or '-'}")
    if spec.customer or spec.order:
        lines.append(f"{spec.customer} {spec.order}".strip())
    return LabelContent("COIL", coil.id, tuple(lines))


def location_label(yard: Yard, location_id: str) -> LabelContent:
    place = yard.location(location_id)
    where = f"store {place.store}" if place.store else "handover"
    return LabelContent("POSITION", place.id, (f"{where}  ({place.kind})",))


# ------------------------------------------------------------------------------------------------- PDF

COIL_PAGE_MM = (100.0, 150.0)  # 4 x 6 in shipping-label stock
LOCATION_PAGE_MM = (100.0, 50.0)


def label_drawing(label: LabelContent, page_mm: tuple[float, float], symbology: Symbology) -> Any:
    """One label as a reportlab Drawing (points): title, the ID in large type, its barcode, the text lines.

    Portrait stock (coil labels) stacks them; landscape stock (position labels) puts the lines at the
    bottom and, for QR, the code on the left with the ID beside it.
    """
    from reportlab.graphics.barcode import createBarcodeDrawing  # type: ignore[import-untyped]  # noqa: PLC0415
    from reportlab.graphics.shapes import Drawing, Group, String  # type: ignore[import-untyped]  # noqa: PLC0415
    from reportlab.lib.units import mm  # type: ignore[import-untyped]  # noqa: PLC0415
    from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]  # noqa: PLC0415

    width, height = page_mm[0] * mm, page_mm[1] * mm
    margin = 5 * mm
    tall = height > width
    drawing = Drawing(width, height)
    qr = symbology is Symbology.QR
    line_size = 14.0 if tall else 9.0
    lines = list(label.lines)
    bottom = margin + (0 if tall else line_size * len(lines) + 4)
    code_side = (
        min(55 * mm, width - 2 * margin)
        if tall
        else height - 2 * margin - (0 if qr else 32) - (bottom - margin)
    )
    text_left = margin + (code_side + 4 * mm if qr and not tall else 0)
    room = width - text_left - margin

    def fit(text: str, largest: float) -> float:
        size = largest
        while size > 6 and stringWidth(text, "Helvetica-Bold", size) > room:
            size -= 0.5
        return size

    top = height - margin
    drawing.add(String(text_left, top - 9, label.title, fontName="Helvetica-Bold", fontSize=9))
    id_size = fit(label.id, 30 if tall else 22)
    drawing.add(String(text_left, top - 12 - id_size, label.id, fontName="Helvetica-Bold", fontSize=id_size))
    if qr:
        code = createBarcodeDrawing("QR", value=label.id, barLevel="M", width=code_side, height=code_side)
        at = (margin, (top - 18 - id_size - code_side) if tall else bottom)
    else:
        code_height = code_side if tall else top - 18 - id_size - bottom
        modules = createBarcodeDrawing("Code128", value=label.id, barWidth=1, quiet=False).width
        bar_width = min(
            (width - 2 * margin) / modules, 0.6 * mm
        )  # 0.6 mm modules at most: readable, not absurd
        code = createBarcodeDrawing(
            "Code128",
            value=label.id,
            barWidth=bar_width,
            barHeight=code_height,
            humanReadable=False,
            quiet=False,
        )
        at = (margin, top - 18 - id_size - code_height if tall else bottom)
    drawing.add(Group(code, transform=(1, 0, 0, 1, *at)))  # placed in page points, whatever its own scale
    y = (top - 18 - id_size - code_side - 6) if tall else bottom - 4
    for line in lines:
        y -= line_size + 3
        if y < margin - line_size:
            break
        drawing.add(
            String(margin, y + (0 if tall else line_size), line, fontName="Helvetica", fontSize=line_size)
        )
    return drawing


def pdf(labels: list[LabelContent], page_mm: tuple[float, float], symbology: Symbology) -> bytes:
    """One label per page. Uncompressed, titled with the IDs, so the PDF is searchable for them."""
    from reportlab.graphics import renderPDF  # type: ignore[import-untyped]  # noqa: PLC0415
    from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]  # noqa: PLC0415

    buffer = io.BytesIO()
    points = 72 / 25.4  # per mm
    canvas = Canvas(buffer, pagesize=(page_mm[0] * points, page_mm[1] * points), pageCompression=0)
    canvas.setTitle(" ".join(label.id for label in labels))
    canvas.setAuthor("coilyard")
    for label in labels:
        renderPDF.draw(label_drawing(label, page_mm, symbology), canvas, 0, 0)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------- ZPL

DOTS_PER_MM = 8  # 203 dpi, the common Zebra resolution


def _zpl_text(text: str) -> str:
    """Field data without ZPL's command characters (^ starts a command, ~ a control command)."""
    return "".join(" " if ch in "^~" or ord(ch) < 32 else ch for ch in text)


def zpl(labels: list[LabelContent], page_mm: tuple[float, float], symbology: Symbology) -> str:
    width, height = (round(v * DOTS_PER_MM) for v in page_mm)
    tall = height > width
    out: list[str] = []
    for label in labels:
        id_size = 90 if tall else 60
        parts = [
            "^XA",
            "^CI28",  # UTF-8 field data
            f"^PW{width}",
            f"^LL{height}",
            f"^FO40,30^A0N,40,40^FD{label.title}^FS",
            f"^FO40,80^A0N,{id_size},{id_size}^FD{_zpl_text(label.id)}^FS",
        ]
        code_y = 80 + id_size + 30
        if symbology is Symbology.QR:
            magnification = 10 if tall else 5
            # ^BQ model 2; field data "QA," = error correction Q, automatic input mode
            parts.append(f"^FO40,{code_y}^BQN,2,{magnification}^FDQA,{label.id}^FS")
            code_height = 440 if tall else 160
        else:
            code_height = 300 if tall else max(80, height - code_y - 60)
            parts.append(f"^FO40,{code_y}^BY3^BCN,{code_height},N,N,N^FD{label.id}^FS")
        line_y = code_y + code_height + 40
        for line in label.lines:
            if line_y > height - 40:
                break
            parts.append(f"^FO40,{line_y}^A0N,36,36^FD{_zpl_text(line)}^FS")
            line_y += 50
        parts.append("^XZ")
        out.append("\n".join(parts))
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------- routes


class Format(StrEnum):
    PDF = "pdf"
    ZPL = "zpl"


def _reply(
    labels: list[LabelContent], page_mm: tuple[float, float], fmt: Format, code: Symbology
) -> Response:
    name = labels[0].id if len(labels) == 1 else "labels"
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    if fmt is Format.PDF:
        return Response(
            pdf(labels, page_mm, code), media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{safe}.pdf"'},
        )  # fmt: skip
    return Response(
        zpl(labels, page_mm, code), media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{safe}.zpl"'},
    )  # fmt: skip


LABEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}, "text/plain": {}}, "description": "PDF or ZPL label"}
}
Code = Annotated[Symbology, Query(description="Barcode: code128 (1D) or qr.")]


@router.get(
    "/coils/{coil}.{fmt}", summary="A coil label (PDF or ZPL)", response_class=Response,
    responses=LABEL_RESPONSES,
)  # fmt: skip
async def coil_label_route(
    coil: PathId, fmt: Format, app: App, _: Caller, code: Code = Symbology.CODE128
) -> Response:
    content = await app.read(lambda yard: coil_label(yard, coil))
    return _reply([content], COIL_PAGE_MM, fmt, code)


@router.get(
    "/locations/{location}.{fmt}", summary="A position label (PDF or ZPL)", response_class=Response,
    responses=LABEL_RESPONSES,
)  # fmt: skip
async def location_label_route(
    location: PathId, fmt: Format, app: App, _: Caller, code: Code = Symbology.CODE128
) -> Response:
    content = await app.read(lambda yard: location_label(yard, location))
    return _reply([content], LOCATION_PAGE_MM, fmt, code)


@router.get(
    "/stores/{store}/locations.{fmt}", summary="Labels for every position of a store, one per page",
    response_class=Response, responses=LABEL_RESPONSES,
)  # fmt: skip
async def store_labels_route(
    store: PathId, fmt: Format, app: App, _: Caller, code: Code = Symbology.CODE128
) -> Response:
    def query(yard: Yard) -> list[LabelContent]:
        ids = sorted(
            loc.id for loc in yard.locations.values() if loc.store == store and loc.kind != "carrier"
        )
        if not ids:
            raise UnknownStore(store)
        return [location_label(yard, i) for i in ids]

    return _reply(await app.read(query), LOCATION_PAGE_MM, fmt, code)


# ------------------------------------------------------------------------------------------------- RFID


class BindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str = Field(pattern=ID_PATTERN, description="The tag's ID as the reader reports it (e.g. EPC hex).")
    coil: str = Field(pattern=ID_PATTERN)


class BindingOut(BaseModel):
    tag: str
    coil: str
    bound_at: float
    bound_by: str


def lookup_tag(engine: Engine, tag: str) -> BindingOut | None:
    with engine.connect() as connection:
        row = connection.execute(sa.select(rfid_tags).where(rfid_tags.c.tag == tag)).first()
    return (
        None
        if row is None
        else BindingOut(tag=row.tag, coil=row.coil, bound_at=row.bound_at, bound_by=row.bound_by)
    )


def tags_of(engine: Engine, coil: str) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(rfid_tags.c.tag).where(rfid_tags.c.coil == coil).order_by(rfid_tags.c.tag)
        )
    return [r.tag for r in rows]


def _bind(engine: Engine, tag: str, coil: str, actor: str) -> BindingOut:
    with engine.begin() as connection:
        row = connection.execute(sa.select(rfid_tags).where(rfid_tags.c.tag == tag)).first()
        if row is not None:
            if row.coil != coil:
                raise TagBound(tag, row.coil)
            return BindingOut(tag=row.tag, coil=row.coil, bound_at=row.bound_at, bound_by=row.bound_by)
        bound = BindingOut(tag=tag, coil=coil, bound_at=time.time(), bound_by=actor)
        connection.execute(sa.insert(rfid_tags).values(**bound.model_dump()))
        return bound


def _unbind(engine: Engine, tag: str) -> None:
    with engine.begin() as connection:
        if connection.execute(sa.delete(rfid_tags).where(rfid_tags.c.tag == tag)).rowcount == 0:
            raise UnknownTag(tag)


@router.post(
    "/rfid", status_code=201, summary="Bind an RFID tag to a coil (binding it again is a no-op)",
    **allow(*BINDERS),
)  # fmt: skip
async def bind_tag(body: BindIn, app: App, who: Caller) -> BindingOut:
    def exists(yard: Yard) -> None:
        if body.coil not in yard.coils:
            raise UnknownCoil(body.coil)

    await app.read(exists)
    return await asyncio.to_thread(_bind, app.engine, body.tag, body.coil, who.name)


@router.get("/rfid/{tag}", summary="The coil an RFID tag is bound to")
async def get_tag(tag: PathId, app: App, _: Caller) -> BindingOut:
    found = await asyncio.to_thread(lookup_tag, app.engine, tag)
    if found is None:
        raise UnknownTag(tag)
    return found


@router.delete("/rfid/{tag}", status_code=204, summary="Unbind an RFID tag", **allow(Role.SUPERVISOR))
async def unbind_tag(tag: PathId, app: App, _: Caller) -> None:
    await asyncio.to_thread(_unbind, app.engine, tag)
