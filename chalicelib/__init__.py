"""Outpost: offsite status infrastructure (the package Chalice ships with app.py)."""
__version__ = "0.1.0"
