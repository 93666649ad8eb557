"""Adapters: one module per outside thing (SQLite, MQTT, later printer, GPIO, audio)."""
