"""The bruno.ops lab: start, stop and inspect local servers by PID (stdlib only)."""
