"""The web layer: Chalice routes and their HTTP helpers (conditional GETs, cache headers, the
client's address, errors as JSON). Only app.py imports the route modules."""
