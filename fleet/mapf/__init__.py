"""Multi-agent path finding (MAPF) on 4-connected grids: the planning benchmark of the fleet core.

`solve` plans collision-free paths for many agents at once (prioritised planning with repair, LaCAM/PIBT
as the complete fallback, then large neighbourhood search); `validate.check_plan` checks any plan
independently. The live traffic control does not use this: it claims, allocates and frees nodes and edges
step by step (fleet.traffic). Pure: no I/O, time only from an injected clock.
"""

from fleet.mapf.grid import Cell, GridGraph, MapfInputError
from fleet.mapf.solver import MapfSolution, solve
from fleet.mapf.validate import PlanCheck, check_plan

__all__ = ["Cell", "GridGraph", "MapfInputError", "MapfSolution", "PlanCheck", "check_plan", "solve"]
