"""Chalice blueprints, one per area of the HTTP surface; app.py registers them."""
