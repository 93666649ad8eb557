"""Apps: one per role, wiring adapters to the domain."""
