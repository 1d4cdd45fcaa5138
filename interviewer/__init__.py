"""A spoken mock-interview trainer for the terminal, fully offline."""

__version__ = "0.1.0"
