"""eSeal command line, settings and the all-in-one server."""
