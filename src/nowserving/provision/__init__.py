"""Provisioning a branch: per-device bundles, and a secure broker with its head-office bridge.

`nowserving provision` calls `provision`; docs/install-broker.md is the installer's guide.
Qt-free, and the only outside package it needs is `cryptography` (the `provision` extra),
imported when certificates are made.
"""

from nowserving.errors import ProvisionError
from nowserving.provision.branch import Settings, provision

__all__ = ["ProvisionError", "Settings", "provision"]
