"""Incident timelines (scenario files): data, no code.

A package only so the files install with the kit (the demo's default scenario is found
without a checkout); it imports nothing.
"""
