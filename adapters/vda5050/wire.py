"""VDA 5050 2.1 on the wire: topics, headers and the schema validators (compiled once, from the vendored
schemas in `schemas/2.1.0`), used by both the master port and the emulator."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import fastjsonschema

from adapters.errors import InvalidMessage

VERSION: Final = "2.1.0"
MAJOR: Final = "v2"
TOPICS: Final = ("order", "instantActions", "state", "visualization", "connection", "factsheet")
_LEVEL = re.compile(
    r"^[A-Za-z0-9_.:-]+$"
)  # what 2.1 §6.5 allows in a serial number; we ask it of every level

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Topics:
    """`interfaceName/majorVersion/manufacturer/serialNumber/<topic>` for one vehicle."""

    interface_name: str
    manufacturer: str
    serial_number: str

    def __post_init__(self) -> None:
        for name, value in (
            ("interface name", self.interface_name),
            ("manufacturer", self.manufacturer),
            ("serial number", self.serial_number),
        ):
            if not _LEVEL.match(value):
                raise ValueError(f"VDA 5050 {name} '{value}' may only use A-Z a-z 0-9 _ . : -")

    @property
    def prefix(self) -> str:
        return f"{self.interface_name}/{MAJOR}/{self.manufacturer}/{self.serial_number}"

    def __call__(self, topic: str) -> str:
        return f"{self.prefix}/{topic}"


def subscription(interface_name: str, manufacturer: str, topic: str) -> str:
    """The wildcard topic for `topic` of every vehicle of `manufacturer`."""
    return f"{interface_name}/{MAJOR}/{manufacturer}/+/{topic}"


def split_topic(topic: str) -> tuple[str, str]:
    """(serialNumber, topic name) of a full topic; raises `InvalidMessage` if it is not a VDA 5050 topic."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[1] != MAJOR or parts[4] not in TOPICS:
        raise InvalidMessage(topic, "not an interfaceName/v2/manufacturer/serialNumber/<topic> topic")
    return parts[3], parts[4]


def timestamp(at: datetime | None = None) -> str:
    """ISO 8601 UTC with milliseconds, as the header wants it."""
    moment = at or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class HeaderIds:
    """`headerId` counters, one per topic (2.1 §6.3: +1 per message sent on that topic)."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def next(self, topic: str) -> int:
        value = self._next.get(topic, 0)
        self._next[topic] = value + 1 if value < 2**32 - 1 else 0
        return value


def header(header_id: int, manufacturer: str, serial_number: str) -> Message:
    return {
        "headerId": header_id,
        "timestamp": timestamp(),
        "version": VERSION,
        "manufacturer": manufacturer,
        "serialNumber": serial_number,
    }


@cache
def validator(topic: str) -> Any:
    """The compiled validator of a topic's 2.1.0 schema (compiled on first use, then reused)."""
    source = resources.files("adapters.vda5050").joinpath("schemas", VERSION, f"{topic}.schema")
    schema = json.loads(source.read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema)


def validate(topic: str, message: Any, *, where: str | None = None) -> None:
    """Raise `InvalidMessage` naming the first problem if `message` breaks the `topic` schema."""
    try:
        validator(topic)(message)
    except fastjsonschema.JsonSchemaValueException as error:
        raise InvalidMessage(where or topic, f"{topic} schema: {error.message}") from None


def parse(topic_name: str, payload: bytes, *, where: str, check: bool = True) -> Message:
    """Decode a payload and (with `check`) validate it; `InvalidMessage` says what is wrong."""
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidMessage(where, f"not JSON ({error})") from None
    if not isinstance(message, dict):
        raise InvalidMessage(where, f"a {topic_name} message must be a JSON object")
    if check:
        validate(topic_name, message, where=where)
    return message


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()
