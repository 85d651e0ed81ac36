"""Adapters over the heavy libraries, behind the small protocols in docqa.adapters.protocols.

Each adapter imports its library lazily, inside the method that needs it.
"""
