"""`launch.App`: what a role's `build` returns closes its parts once, newest first, and
closes what was opened when a later part fails."""

from __future__ import annotations

import pytest

from nowserving.launch import App


class Part:
    def __init__(self, name: str, closed: list[str]) -> None:
        self.name, self.closed = name, closed

    def close(self) -> None:
        self.closed.append(self.name)


def test_parts_close_newest_first_and_the_client_last_once():
    closed: list[str] = []
    app = App(Part("client", closed))
    app.owns(Part("printer", closed))
    app.owns(Part("pins", closed))
    app.close()
    app.close()
    assert closed == ["pins", "printer", "client"]


def test_a_part_that_fails_to_open_closes_those_before_it():
    """GIVEN a build that opened a printer WHEN its pins fail THEN the error leaves `build`
    and the printer and client are closed."""
    closed: list[str] = []
    app = App(Part("client", closed))
    with pytest.raises(OSError, match="pin in use"), app.building():
        app.owns(Part("printer", closed))
        raise OSError("pin in use")
    assert closed == ["printer", "client"]
