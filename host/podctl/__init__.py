"""podctl host tools (CPython only)."""

__version__ = "0.1.0"
