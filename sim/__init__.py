"""podctl simulator: the container and its mission as physics (CPython)."""
