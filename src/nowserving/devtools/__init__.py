"""Development helpers that are not a role: a private Mosquitto, the whole-branch demo."""
