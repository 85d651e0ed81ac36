"""docqa: local, private, scriptable document question answering."""

__version__ = "0.1.0"
