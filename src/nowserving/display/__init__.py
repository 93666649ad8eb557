"""The lobby display role (calls, announcements, waits): built on `client`."""
