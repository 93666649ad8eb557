"""The branch server role: the one writer of queue state, on the wire only."""

from nowserving.server.app import BranchServer

__all__ = ["BranchServer"]
