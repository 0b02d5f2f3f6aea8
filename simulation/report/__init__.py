"""Reports of simulation runs: plots (PNG and SVG) and a self-contained report.html from a run directory."""

from simulation.report.report import write_report
from simulation.report.rundir import RunDirInvalid, read_run

__all__ = ["RunDirInvalid", "read_run", "write_report"]
