"""The pure core: the domain's rules and data (conditions, incidents, uptime, the snapshot's
shape, the status file's model, errors). No I/O, and nothing from the layers above."""
