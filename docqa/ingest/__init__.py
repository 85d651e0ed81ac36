"""Turning files into chunks: format loaders and the token-aware chunker (pure, deterministic)."""
