"""nowserving: queue management for service branches."""

__version__ = "0.1.0"
