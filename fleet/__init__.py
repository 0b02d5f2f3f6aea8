"""Movement: transport orders, dispatcher, routing and traffic control for AGVs and RGVs (domain core)."""
