"""A self-test's results: one `Check` per concern, and the `Report` that prints them as a
table and goes into the device's retained status."""

from __future__ import annotations

from dataclasses import dataclass, field

from nowserving import __version__

OK, WARN, FAIL, SKIP = "ok", "warn", "FAIL", "skip"
STATUSES = (OK, WARN, FAIL, SKIP)


@dataclass(frozen=True)
class Check:
    """One concern's verdict: `ok`, `warn` (works, but look at it), `FAIL`, or `skip`
    (not tested, and why)."""

    name: str
    status: str
    detail: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"a check's status is one of {STATUSES}, not {self.status!r}")

    @property
    def failed(self) -> bool:
        """Whether this check failed."""
        return self.status == FAIL

    def line(self) -> str:
        """The check as one printed line."""
        return f"  {self.status:<5} {self.name:<9} {self.detail}"

    def as_dict(self) -> dict:
        """The check as the device's status carries it."""
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class Report:
    """Every check of one run, in the order they were made."""

    device: str
    role: str
    branch: str
    at: float  # when the run started (Unix seconds)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no check failed."""
        return not any(c.failed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.failed]

    def get(self, name: str) -> Check | None:
        """The check named `name`, if it was made."""
        return next((c for c in self.checks if c.name == name), None)

    def summary(self) -> str:
        """One line: how many checks passed, warned and failed."""
        warnings = sum(c.status == WARN for c in self.checks)
        warned = f", {warnings} warning(s)" if warnings else ""
        if self.ok:
            return f"self-test of {self.device}: ok ({len(self.checks)} checks{warned})"
        names = ", ".join(c.name for c in self.failed)
        return (
            f"self-test of {self.device}: FAIL ({len(self.failed)} of {len(self.checks)} "
            f"checks failed: {names}{warned})"
        )

    def as_status(self) -> dict:
        """The `self_test` field of the device's retained status (docs/protocol.md)."""
        return {
            "at": round(self.at, 3),
            "ok": self.ok,
            "version": __version__,
            "checks": [c.as_dict() for c in self.checks],
        }
