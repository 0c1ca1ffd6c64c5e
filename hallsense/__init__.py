"""The composition root: the hallsense CLI and the wiring that joins every package."""

__version__ = "0.1.0.dev0"
