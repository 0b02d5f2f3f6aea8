"""CAN adapter: the vehicle port over RGV and crane PLC gateways (`coilyard_gateway.dbc`), and an emulator."""
