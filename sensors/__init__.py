"""Drivers that turn hardware or a simulation into Readings, and the checks on their values."""
