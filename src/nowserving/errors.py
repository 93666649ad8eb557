"""The one root of every error nowserving raises on purpose, with a subclass per edge.

This module imports only the standard library, so the pure domain may use it.
"""


class NowservingError(Exception):
    """Root of all nowserving errors."""


class ConfigError(NowservingError, ValueError):
    """The branch or device configuration is invalid; carries every problem found."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n{lines}")


class DomainError(NowservingError):
    """A command that the queue refuses (no ticket waiting, counter paused, ...).

    `code` is a stable machine-readable word that goes on the wire; the message is for people;
    `params` are the numbers and names the message is made of, so that a device can say it
    in its own language (its catalogue's `refusal.<code>` with them filled in).
    """

    def __init__(self, code: str, message: str, params: dict | None = None) -> None:
        self.code = code
        self.message = message
        self.params = dict(params or {})
        super().__init__(f"{code}: {message}")


class ProtocolError(NowservingError, ValueError):
    """An MQTT message that does not follow the wire contract.

    `command_id` is the message's id when it had a readable one, so the refusal can be
    matched by the sender.
    """

    def __init__(self, code: str, message: str, command_id: str | None = None) -> None:
        self.code = code
        self.message = message
        self.command_id = command_id
        super().__init__(f"{code}: {message}")


class StoreError(NowservingError, OSError):
    """The durable event log cannot be read or written."""


class RefusedToServe(NowservingError, RuntimeError):
    """The branch server will not serve: its log is behind what devices saw, or another
    server instance took over. The process ends with EXIT_CODE, which its systemd unit
    does not restart on (RestartPreventExitStatus): someone has to look."""

    EXIT_CODE = 3


class PrinterError(NowservingError, OSError):
    """The ticket printer cannot be opened, or failed while printing."""


class ProvisionError(NowservingError, RuntimeError):
    """Provisioning cannot go on: a missing option or package, or an output folder that
    does not fit (another branch's, a CA without its key)."""
