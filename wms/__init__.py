"""Stock: every coil and ingot stack and where it is (domain core; reads the layout, does no I/O)."""
