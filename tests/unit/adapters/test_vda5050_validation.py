"""Every VDA 5050 message in and out is checked against the vendored 2.1.0 schemas; bad input is rejected
with a log line naming the topic and the problem, and never stops the port."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.errors import CommandRejected, InvalidMessage
from adapters.vda5050.port import Vda5050Port
from adapters.vda5050.wire import Topics, encode, header, parse, split_topic, validate
from fleet.domain.vehicles import VehicleState
from fleet.ports import Pause, Resume, SendCraneMove, StateChanged
from tests.wms_factories import tiny_plant

PLANT = tiny_plant()
TOPIC = "uagv/v2/coilyard/AGV-01/state"


def state(**fields: Any) -> dict[str, Any]:
    return {
        **header(1, "coilyard", "AGV-01"),
        "orderId": "",
        "orderUpdateId": 0,
        "lastNodeId": "P1",
        "lastNodeSequenceId": 0,
        "nodeStates": [],
        "edgeStates": [],
        "driving": False,
        "actionStates": [],
        "batteryState": {"batteryCharge": 50.0, "charging": False},
        "operatingMode": "AUTOMATIC",
        "errors": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
        **fields,
    }


def online_port(validate: bool = True) -> Vda5050Port:
    port = Vda5050Port(plant=PLANT, vehicles=["AGV-01"], validate=validate)
    port.drain()
    connection = {**header(0, "coilyard", "AGV-01"), "connectionState": "ONLINE"}
    port.process("uagv/v2/coilyard/AGV-01/connection", encode(connection), 0.0)
    return port


BAD: list[tuple[str, bytes, str]] = [
    ("garbled", b'{"headerId": 3, "orderId": ', "not JSON"),
    ("not utf-8", b"\xff\xfe\x00", "not JSON"),
    ("an array", b"[1, 2]", "must be a JSON object"),
    ("missing field", encode({k: v for k, v in state().items() if k != "lastNodeId"}), "lastNodeId"),
    ("wrong type", encode(state(driving="yes")), "driving"),
    ("bad enum", encode(state(operatingMode="TURBO")), "operatingMode"),
    ("bad timestamp", encode(state(timestamp="yesterday")), "timestamp"),
    ("other vehicle", encode(state(serialNumber="AGV-02")), "serialNumber"),
]


@pytest.mark.parametrize(("case", "payload", "reason"), BAD, ids=[c for c, _, _ in BAD])
def test_a_bad_state_is_rejected_with_a_log_line_and_the_port_keeps_serving(
    case: str, payload: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = online_port()
    with caplog.at_level(logging.WARNING, logger="adapters.vda5050"):
        assert port.process(TOPIC, payload, 1.0) == []
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert TOPIC in record.getMessage()
    assert reason in record.getMessage()
    assert port.stats["rejected"] == 1
    good = port.process(TOPIC, encode(state()), 2.0)
    assert [e.state for e in good if isinstance(e, StateChanged)] == [VehicleState.IDLE]


def test_with_validation_off_unusable_content_is_still_rejected_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = online_port(validate=False)
    with caplog.at_level(logging.WARNING, logger="adapters.vda5050"):
        assert port.process(TOPIC, encode({k: v for k, v in state().items() if k != "errors"}), 1.0) == []
    assert port.stats["rejected"] == 1
    assert "unusable content" in caplog.records[0].getMessage()


def test_messages_of_unknown_vehicles_and_topics_are_ignored() -> None:
    port = online_port()
    assert port.process("uagv/v2/coilyard/AGV-77/state", encode(state(serialNumber="AGV-77")), 1.0) == []
    assert port.process("uagv/v2/coilyard/AGV-01/order", b"{}", 1.0) == []  # our own outbound topic
    assert port.stats["ignored"] == 2
    assert port.stats["rejected"] == 0


def test_a_topic_that_is_not_vda5050_is_rejected(caplog: pytest.LogCaptureFixture) -> None:
    port = online_port()
    with caplog.at_level(logging.WARNING, logger="adapters.vda5050"):
        assert port.process("uagv/v1/coilyard/AGV-01/state", encode(state()), 1.0) == []
    assert "not an interfaceName/v2" in caplog.records[0].getMessage()


def test_outbound_instant_actions_are_valid() -> None:
    port = online_port()
    port.send(Pause(vehicle="AGV-01"))
    port.send(Resume(vehicle="AGV-01"))
    kinds = []
    for topic, message in port.outbox:
        validate(topic, message)
        kinds.append(message["actions"][0]["actionType"])
    assert kinds == ["startPause", "stopPause"]
    assert [m["headerId"] for _, m in port.outbox] == [0, 1]


def test_parse_names_the_problem() -> None:
    with pytest.raises(InvalidMessage, match=r"connection schema: .*connectionState"):
        parse("connection", encode({**header(0, "m", "s"), "connectionState": "MAYBE"}), where="x")


def test_topics_follow_the_2_1_layout_and_refuse_bad_levels() -> None:
    assert Topics("uagv", "coilyard", "AGV-01")("order") == "uagv/v2/coilyard/AGV-01/order"
    assert split_topic("uagv/v2/coilyard/AGV-01/state") == ("AGV-01", "state")
    with pytest.raises(ValueError, match="serial number 'AGV/01'"):
        Topics("uagv", "coilyard", "AGV/01")


def test_commands_the_port_cannot_carry_are_refused_by_name() -> None:
    port = online_port()
    with pytest.raises(CommandRejected, match=r"'AGV-99'.*not a vehicle of this VDA 5050 port"):
        port.send(Pause(vehicle="AGV-99"))
    with pytest.raises(CommandRejected, match="SendCraneMove is not a VDA 5050 command"):
        port.send(SendCraneMove(vehicle="AGV-01", order="J1", along=3.0, across=1.0))


def test_visualization_and_factsheet_are_kept_for_views_and_make_no_fleet_event() -> None:
    port = online_port()
    position = {"x": 12.5, "y": 3.0, "theta": 0.0, "mapId": "tiny", "positionInitialized": True}
    visualization = {**header(2, "coilyard", "AGV-01"), "agvPosition": position}
    events = port.process("uagv/v2/coilyard/AGV-01/visualization", encode(visualization), 1.0)
    assert events == []
    assert port.positions["AGV-01"] == position
    broken = {**header(3, "coilyard", "AGV-01"), "agvPosition": {"x": "east"}}
    assert port.process("uagv/v2/coilyard/AGV-01/visualization", encode(broken), 2.0) == []
    assert port.positions["AGV-01"] == position  # a rejected message changes nothing
    assert port.stats["rejected"] == 1
    assert port.process("uagv/v2/coilyard/AGV-01/factsheet", b'{"headerId": 1', 3.0) == []
    assert "AGV-01" not in port.factsheets
    assert port.stats["rejected"] == 2
