"""Camera registry and health, media probing, and the simulator."""
