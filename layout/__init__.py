"""The plant model every other part of coilyard reads: stores, stations, transport network, vehicles, zones."""

from layout.loader import load_plant, parse_plant, parse_plant_file
from layout.model import Plant, RackCell, SaddlePosition, StackerCrane, StackPosition, Tier, Vehicle
from layout.problems import LayoutInvalid, LayoutProblem

__all__ = [
    "LayoutInvalid",
    "LayoutProblem",
    "Plant",
    "RackCell",
    "SaddlePosition",
    "StackPosition",
    "StackerCrane",
    "Tier",
    "Vehicle",
    "load_plant",
    "parse_plant",
    "parse_plant_file",
]
