"""The ticket kiosk role (touch screen, printer, ticket buttons): built on `client`."""
