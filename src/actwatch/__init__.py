"""actwatch: watch the implementation of an Act of Parliament and publish a seasonal bulletin."""

__version__ = "0.1.0"
