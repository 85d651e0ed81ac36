"""The core flows (ingest, retrieve, ask): they take their collaborators as arguments,
return records, and never print or read the environment."""
