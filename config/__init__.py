"""Settings, step policies and the names shared with Temporal."""
