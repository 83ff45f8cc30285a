"""clarifai-tui: Clarifai auto-annotation from the terminal."""

__version__ = "0.1.0"
