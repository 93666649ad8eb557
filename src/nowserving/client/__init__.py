"""The device side of the contract: a client that never blocks its caller, and a Qt
bridge that brings what it receives onto the GUI thread."""

from nowserving.client.branch import DEADLINE_S, UNREACHABLE, BranchClient, broker_for

__all__ = ["DEADLINE_S", "UNREACHABLE", "BranchClient", "broker_for"]
