"""Monitoring: statistics over recorded interactions, groundedness, the report."""
