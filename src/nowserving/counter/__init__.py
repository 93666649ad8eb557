"""The counter role (GPIO buttons and LEDs, staff panel): built on `client`."""
