"""The WMS domain: pure Python, no I/O. `Yard` is the state; every change is a ledger event."""
