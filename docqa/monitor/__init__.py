"""Monitoring: statistics over recorded interactions, and the report built from them (the
answer-time checks it reads back live beside the ask flow: docqa.flows.groundedness,
docqa.flows.guards)."""
