"""WMS service layer: commands, handlers, the unit of work and the message bus."""
