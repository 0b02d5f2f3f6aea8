"""Benchmark: VDA 5050 state messages processed per second by the master side (`Vda5050Port`).

Goal (vehicle adapters issue): at least 1,000 state messages per second on one core with schema validation
on. Each message goes through what `drain()` does with it: `json.loads`, validation against the vendored
2.1.0 state schema (fastjsonschema, compiled once), and interpretation by the vehicle's link (progress along
the order, state mapping, energy, action states). The messages are realistic: every vehicle of the plant has
an order of `--nodes` nodes, half of it released, and its states walk along it (node and edge states
shrinking, driving, a pick running at the end, battery draining), pre-encoded so that encoding is not timed.

Rows, measured side by side in one run, best of `--repeat`:
* process, validation on   (the figure the goal is about)
* process, validation off
* json.loads + validate only, and json.loads only (where the time goes)
* end to end through the broker (with --broker): a publisher client sends the messages to Mosquitto as
  fast as it can, the port (subscribed, network thread enqueuing) drains and processes them; the rate is
  messages processed / time from first publish to last processed; QoS 0, so the count processed is shown.

    python bench/vda5050_bench.py [--layout examples/aluminium-rolling.yaml] [--messages 20000] [--repeat 5]
                                  [--nodes 12] [--broker 127.0.0.1:1883]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from adapters.vda5050.port import Vda5050Port, broker_address
from adapters.vda5050.wire import encode, header, validator
from fleet.domain.orders import Operation
from fleet.ports import SendRoute
from layout import Plant, load_plant

GOAL = 1_000.0
ROOT = Path(__file__).resolve().parents[1]


def route_of(plant: Plant, vehicle: str, length: int) -> tuple[str, ...]:
    """A walk of `length` nodes from the vehicle's home in its class graph (repeats allowed)."""
    graph = plant.graph(plant.vehicles[vehicle].vehicle_class.id)
    nodes = [plant.vehicles[vehicle].home]
    while len(nodes) < length:
        successors = sorted(graph.successors(nodes[-1]))
        nodes.append(successors[len(nodes) % len(successors)] if successors else nodes[-1])
    return tuple(nodes)


def make_port(
    plant: Plant, interface: str, *, validate: bool, routes: dict[str, tuple[str, ...]]
) -> Vda5050Port:
    port = Vda5050Port(plant=plant, interface_name=interface, validate=validate)
    port.drain()
    for vehicle, nodes in routes.items():
        online = {**header(0, "coilyard", vehicle), "connectionState": "ONLINE"}
        port.process(f"{interface}/v2/coilyard/{vehicle}/connection", encode(online), 0.0)
        port.send(
            SendRoute(vehicle=vehicle, order="B1", nodes=nodes, released=len(nodes), operation=Operation.PICK)
        )
    port.outbox.clear()
    return port


def messages(
    plant: Plant, interface: str, routes: dict[str, tuple[str, ...]], count: int
) -> list[tuple[str, bytes]]:
    """`count` state messages, round robin over the vehicles, each walking its route then picking."""
    out: list[tuple[str, bytes]] = []
    step = dict.fromkeys(routes, 0)
    vehicles = sorted(routes)
    for i in range(count):
        vehicle = vehicles[i % len(vehicles)]
        nodes = routes[vehicle]
        k = step[vehicle] % len(nodes)
        step[vehicle] += 1
        x, y = plant.node_points[nodes[k]]
        ahead = range(k + 1, len(nodes))
        at_end = k == len(nodes) - 1
        body: dict[str, Any] = {
            **header(i, "coilyard", vehicle),
            "orderId": "B1.1",
            "orderUpdateId": 0,
            "lastNodeId": nodes[k],
            "lastNodeSequenceId": 2 * k,
            "nodeStates": [{"nodeId": nodes[j], "sequenceId": 2 * j, "released": True} for j in ahead],
            "edgeStates": [
                {"edgeId": f"{nodes[j - 1]}--{nodes[j]}", "sequenceId": 2 * j - 1, "released": True}
                for j in ahead
            ],
            "driving": not at_end,
            "paused": False,
            "actionStates": [
                {
                    "actionId": "B1.1/pick",
                    "actionType": "pick",
                    "actionStatus": "RUNNING" if at_end else "WAITING",
                }
            ],
            "batteryState": {"batteryCharge": 90.0 - (i % 500) * 0.1, "charging": False},
            "operatingMode": "AUTOMATIC",
            "errors": [],
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
            "agvPosition": {"x": x, "y": y, "theta": 0.0, "mapId": plant.id, "positionInitialized": True},
            "velocity": {"vx": 1.0, "vy": 0.0, "omega": 0.0},
            "loads": [],
        }
        out.append((f"{interface}/v2/coilyard/{vehicle}/state", encode(body)))
    return out


def best_rate(run: Any, count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def local_rates(plant: Plant, count: int, repeat: int, nodes: int) -> dict[str, float]:
    interface = "bench"
    routes = {v: route_of(plant, v, nodes) for v in sorted(plant.vehicles)}
    batch = messages(plant, interface, routes, count)
    rates: dict[str, float] = {}
    for label, check in (("process, validation on", True), ("process, validation off", False)):

        def run(check: bool = check) -> None:
            port = make_port(plant, interface, validate=check, routes=routes)
            for topic, payload in batch:
                port.process(topic, payload, 1.0)
            assert port.stats["rejected"] == 0, port.stats

        rates[label] = best_rate(run, count, repeat)
    check_state = validator("state")

    def parse_and_validate() -> None:
        for _, payload in batch:
            check_state(json.loads(payload))

    def parse_only() -> None:
        for _, payload in batch:
            json.loads(payload)

    rates["json.loads + schema validation only"] = best_rate(parse_and_validate, count, repeat)
    rates["json.loads only"] = best_rate(parse_only, count, repeat)
    return rates


def broker_rate(plant: Plant, broker: str, count: int, nodes: int) -> tuple[float, int]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    host, port_number = broker_address(broker)
    interface = f"bench-{secrets.token_hex(3)}"
    routes = {v: route_of(plant, v, nodes) for v in sorted(plant.vehicles)}
    batch = messages(plant, interface, routes, count)
    port = Vda5050Port(plant=plant, url=f"mqtt://{host}:{port_number}", interface_name=interface)
    port.open()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{secrets.token_hex(3)}")
    publisher.max_queued_messages_set(0)
    publisher.connect(host, port_number)
    publisher.loop_start()
    try:
        for vehicle in routes:
            online = encode({**header(0, "coilyard", vehicle), "connectionState": "ONLINE"})
            publisher.publish(
                f"{interface}/v2/coilyard/{vehicle}/connection", online, qos=1
            ).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while port.stats["received connection"] < len(routes) and time.monotonic() < deadline:
            port.drain()
            time.sleep(0.01)
        for vehicle, nodes_ in routes.items():
            port.send(
                SendRoute(
                    vehicle=vehicle, order="B1", nodes=nodes_, released=len(nodes_), operation=Operation.PICK
                )
            )
        start = time.perf_counter()
        for topic, payload in batch:
            publisher.publish(topic, payload, qos=0)
        last_change, seen = time.perf_counter(), 0
        while time.perf_counter() - last_change < 1.0:
            port.drain()
            processed = port.stats["received state"]
            if processed != seen:
                seen, last_change = processed, time.perf_counter()
                finished = last_change
            if seen >= count:
                break
            time.sleep(0.001)
        return seen / (finished - start), seen
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        port.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--layout", type=Path, default=ROOT / "examples" / "aluminium-rolling.yaml")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=12, help="nodes per vehicle order")
    parser.add_argument("--broker", help="also measure end to end through this MQTT broker (host:port)")
    args = parser.parse_args()
    plant = load_plant(args.layout)
    rates = local_rates(plant, args.messages, args.repeat, args.nodes)
    table = Table(
        title=f"VDA 5050 state messages, {len(plant.vehicles)} vehicles of {plant.id}, {args.messages:,} messages"
    )
    table.add_column("path")
    table.add_column("messages/s", justify="right")
    table.add_column("µs/message", justify="right")
    for label, rate in rates.items():
        table.add_row(label, f"{rate:,.0f}", f"{1e6 / rate:,.1f}")
    if args.broker:
        rate, seen = broker_rate(plant, args.broker, args.messages, args.nodes)
        table.add_row(
            f"end to end via {args.broker} ({seen:,} of {args.messages:,} arrived)",
            f"{rate:,.0f}",
            f"{1e6 / rate:,.1f}",
        )
    console = Console()
    console.print(table)
    goal = rates["process, validation on"]
    verdict = "meets" if goal >= GOAL else "MISSES"
    console.print(
        f"goal >= {GOAL:,.0f} state messages/s with validation on: {verdict} ({goal:,.0f}/s, one core)"
    )
    console.print(
        f"validation costs {rates['process, validation off'] / goal:.2f}x "
        "(ratio of the two process rows, measured in this run)"
    )


if __name__ == "__main__":
    main()
