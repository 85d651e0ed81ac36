"""Guided generation: prompt templates as programs whose slots the local model fills under
token-level constraints (regex, choices, JSON schema), with prefix and KV-state reuse."""
