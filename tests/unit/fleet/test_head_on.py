"""Head-on encounters in the tiny plant's single corridor (W1-W5): a deadlock victim must not win the contested
node back when its route is sent again.

The reported livelock: AGV-01 drives T3 (DOCK1 -> W1) westwards while AGV-02, after a sequence of two orders,
drives eastwards to park. They meet head-on between W2 and W3; AGV-01 retreats to IO-HB1 (AGV-02 has nowhere
to go). An adapter reports the arrival and the end of the MOVE together, so AGV-01's route was sent again in
the next tick and, allocated first (lowest id), took W3 back before AGV-02: the same deadlock again, every
retreat, with no end (over 150 orders sent, T3 never finished).

Reproduced twice: with fake vehicles whose edges take uneven times (`Timing`), and through the VDA 5050
emulators as reported (`Chain` of test_vda5050_emulator.py, no broker).

Three AGVs in a corridor with two passing bays, all sent to pick in one end bay and drop in a passing bay, meet
in deadlocks that no single retreat resolves (the vehicle in the bay waits for the one in front of it, which
waits to get in, and the third blocks the way back): a joint plan moves them together.
"""

from __future__ import annotations

import pytest

from fleet.core import SubmitOrder, SubmitSequence
from fleet.domain.orders import Destination, Operation, OrderSequence, OrderSpec, OrderState
from fleet.ports import SendRoute
from tests.fleet_harness import Loop, Timing
from tests.unit.adapters.test_vda5050_emulator import Chain
from tests.unit.fleet.test_core_properties import Liveness, Scenario, corridor, run
from tests.wms_factories import tiny_plant

ORDERS = ("T3", "L1", "L2")


def transport(oid: str, pick: str, drop: str) -> OrderSpec:
    return OrderSpec(
        id=oid,
        destinations=(Destination(pick, Operation.PICK), Destination(drop, Operation.DROP)),
        vehicle_class="agv",
        unit=f"K-{oid}",
        weight=20.0,
    )


def westwards_then_a_sequence() -> tuple[SubmitOrder, SubmitSequence]:
    sequence = SubmitSequence(
        sequence=OrderSequence(id="S1", orders=("L1", "L2")),
        specs=(transport("L1", "HM-X", "H-FS1"), transport("L2", "H-FS1", "H-IS1")),
    )
    return SubmitOrder(spec=transport("T3", "DOCK1", "W1")), sequence


@pytest.mark.parametrize("max_edge_ticks", [1, 2, 3])
@pytest.mark.parametrize("delay", [0, 2, 5, 10])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_head_on_deadlock_in_the_corridor_is_resolved_once_with_uneven_timing(
    seed: int, delay: int, max_edge_ticks: int
) -> None:
    loop = Loop.on(tiny_plant())
    loop.timing = Timing(seed, max_edge_ticks)
    first, sequence = westwards_then_a_sequence()
    loop.feed(first)
    loop.run(delay)
    loop.feed(sequence)
    for _ in range(150 * max_edge_ticks):
        loop.tick()
        if all(loop.core.book[o].state.terminal for o in ORDERS) and not loop.core.drives:
            break
    assert {o: loop.core.book[o].state for o in ORDERS} == dict.fromkeys(ORDERS, OrderState.FINISHED)
    assert not loop.core.drives, "a vehicle still drives (to park)"
    # Each head-on meeting costs one retreat, not one per tick.
    assert sum(loop.core.victimised.values()) <= 2, loop.core.victimised
    assert len([e for e in loop.effects if isinstance(e, SendRoute)]) < 60


def test_the_reported_livelock_through_the_vda5050_emulators_ends() -> None:
    chain = Chain(speed_up=10)
    chain.step()
    first, sequence = westwards_then_a_sequence()
    chain.handle(first)
    for _ in range(10):
        chain.step()
    chain.handle(sequence)
    chain.run_until(lambda: all(chain.core.book[o].state.terminal for o in ORDERS), 120)
    assert {o: chain.core.book[o].state for o in ORDERS} == dict.fromkeys(ORDERS, OrderState.FINISHED)
    assert (
        chain.core.victimised.get("AGV-01", 0) <= 2
    )  # the westbound vehicle gave way once, not every second
    assert chain.port.stats["sent order"] < 60  # it was over 150 before the fix


@pytest.mark.parametrize("timing", [None, (0, 2), (1, 3)])
def test_three_agvs_into_a_passing_bay_are_untangled_by_a_joint_plan(timing: tuple[int, int] | None) -> None:
    plant = corridor(6, 3, [1, 2])  # c0..c5, bays b0 (west end), b1, b2 (passing), b5 (east end)
    orders = [
        (
            0,
            OrderSpec(
                id=f"O{i}",
                destinations=(Destination("b0", Operation.PICK), Destination("b1", Operation.DROP)),
            ),
        )
        for i in range(3)
    ]
    scenario = Scenario(orders, None, plant, timing=timing)
    liveness = Liveness()
    loop = run(scenario, plant, liveness)
    assert {o: loop.core.book[o].state for o in ("O0", "O1", "O2")} == dict.fromkeys(
        ("O0", "O1", "O2"), OrderState.FINISHED
    )
    assert (
        loop.core.joint_plans >= 1
    )  # before joint plans, O1 and O2 stayed open: a deadlock no retreat resolved
    assert liveness.longest_stuck_cycle <= 2
    assert liveness.waiting == {}
