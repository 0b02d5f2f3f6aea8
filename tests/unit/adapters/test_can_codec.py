"""The gateway message set: every frame round-trips through the DBC, and the Python enums match its tables."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.can import codec
from adapters.can.codec import (
    AckReason,
    AckResult,
    Fault,
    FrameError,
    GatewayState,
    Heartbeat,
    JobAck,
    JobCommand,
    JobKind,
    Position,
    Severity,
    Status,
)
from adapters.can.nodes import NodeMap, NodeTableError
from layout import load_plant
from tests.layout_helpers import TINY_PATH

nodes = st.integers(1, codec.MAX_NODE_ID)
u16 = st.integers(0, 0xFFFF)

frames = st.one_of(
    st.builds(JobCommand, job_id=u16, kind=st.sampled_from(JobKind), target_node=u16),
    st.builds(
        JobCommand,
        job_id=u16,
        kind=st.sampled_from(JobKind),
        along_mm=st.integers(0, (1 << 24) - 1),
        across_mm=u16,
    ),
    st.builds(JobAck, job_id=u16, result=st.sampled_from(AckResult), reason=st.sampled_from(AckReason)),
    st.builds(
        Position,
        node_index=u16,
        along_mm=st.integers(0, (1 << 24) - 1),
        speed_mm_s=st.integers(-32768, 32767),
    ),
    st.builds(
        Status,
        state=st.sampled_from(GatewayState),
        load_present=st.booleans(),
        energy_pct=st.none() | st.integers(0, 100),
        job_id=u16,
    ),
    st.builds(Heartbeat, counter=st.integers(0, 255)),
    st.builds(Fault, code=u16, severity=st.sampled_from(Severity), active=st.booleans()),
)


@given(frame=frames, node=nodes)
def test_every_frame_round_trips_through_the_dbc(frame: codec.Frame, node: int) -> None:
    can_id, data = codec.encode(frame, node)
    assert can_id & codec.MAX_NODE_ID == node and can_id <= 0x7FF
    assert len(data) <= 8
    assert codec.decode(can_id, data) == (node, frame)


@pytest.mark.parametrize(
    ("frame", "base"),
    [
        (Fault(1, Severity.INFO, True), 0x080),
        (JobAck(1, AckResult.ACCEPTED), 0x180),
        (JobCommand(1, JobKind.MOVE, target_node=1), 0x200),
        (Position(0, 0, 0), 0x280),
        (Status(GatewayState.IDLE, False, None, 0), 0x300),
        (Heartbeat(0), 0x700),
    ],
)
def test_frame_ids_are_base_plus_node_id(frame: codec.Frame, base: int) -> None:
    assert codec.frame_id(frame, 5) == base + 5
    assert codec.frame_id(frame, 127) == base + 127


def test_known_bytes_of_a_job_command() -> None:
    # Intel byte order: job 0x0105, kind pick (1) in the low nibble of byte 2, target node 0x0203 in bytes 3-4.
    assert codec.encode(JobCommand(0x0105, JobKind.PICK, target_node=0x0203), 1) == (
        0x201,
        bytes([0x05, 0x01, 0x01, 0x03, 0x02, 0, 0, 0]),
    )


@pytest.mark.parametrize(
    ("enum", "message", "signal"),
    [
        (JobKind, "JobCommand", "kind"),
        (AckResult, "JobAck", "result"),
        (AckReason, "JobAck", "reason"),
        (GatewayState, "Status", "state"),
        (Severity, "Fault", "severity"),
    ],
)
def test_enums_match_the_dbc_value_tables(enum: type[IntEnum], message: str, signal: str) -> None:
    choices: Mapping[Any, Any] = codec.message(message).get_signal_by_name(signal).choices or {}
    assert {int(k): str(v) for k, v in choices.items()} == {m.value: m.name.lower() for m in enum}


def test_every_message_is_documented_in_the_dbc() -> None:
    for msg in codec.database().messages:
        assert msg.comment and f"0x{msg.frame_id:03X} + node" in msg.comment, msg.name


def test_fault_text_names_the_fault() -> None:
    assert Fault(0x0301, Severity.FATAL, True).describe() == "fault 0x0301 emergency_stop (fatal)"
    assert Fault(0x7777, Severity.ERROR, True).describe() == "fault 0x7777 unknown (error)"


@pytest.mark.parametrize(
    ("can_id", "data", "message"),
    [
        (0x285, b"\x01", "Position from node 5 (id 0x285) is garbled"),
        (0x285, bytes(9), "is garbled"),
        (0x123, b"", "CAN id 0x123 is not a coilyard gateway message"),
        (0x280, bytes(8), "names node 0"),
        (0x303, bytes([9, 0, 0, 0]), "state 9 is not a GatewayState"),
        (0x303, bytes([0, 101, 0, 0]), "energy_pct 101 is above 100"),
        (0x183, bytes([1, 0, 7, 0]), "result 7 is not a AckResult"),
        (0x203, bytes([1, 0, 0x21, 0, 0, 0, 0, 0]), "multiplexer id 0 or 1, but got 2"),
    ],
)
def test_bad_frames_raise_frame_error_naming_the_problem(can_id: int, data: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message.replace("(", r"\(").replace(")", r"\)")):
        codec.decode(can_id, data)


def test_values_that_do_not_fit_are_refused_on_encode() -> None:
    with pytest.raises(FrameError, match="along_mm"):
        codec.encode(JobCommand(1, JobKind.MOVE, along_mm=1 << 24, across_mm=0), 1)
    with pytest.raises(FrameError, match=r"node id must be 1\.\.127"):
        codec.encode(Heartbeat(0), 128)
    with pytest.raises(FrameError, match="either target_node or both"):
        JobCommand(1, JobKind.MOVE, target_node=3, along_mm=5, across_mm=0)


def test_node_table_from_the_plant_is_sorted_and_reversible() -> None:
    table = NodeMap.from_plant(load_plant(TINY_PATH))
    rows = list(table.rows())
    assert [i for i, _ in rows] == list(range(1, len(rows) + 1))
    assert [n for _, n in rows] == sorted(n for _, n in rows)
    assert all(table.node(table.index(n)) == n for _, n in rows)
    assert table.node(0) is None
    with pytest.raises(NodeTableError, match="route node 'NOPE' has no index"):
        table.index("NOPE")


def test_node_table_refuses_duplicates_and_bad_indexes() -> None:
    with pytest.raises(NodeTableError, match="index 3 is given to both 'A' and 'B'"):
        NodeMap.from_mapping({"A": 3, "B": 3})
    with pytest.raises(NodeTableError, match="'A' has index 0"):
        NodeMap.from_mapping({"A": 0})
