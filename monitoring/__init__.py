"""Prometheus and Alertmanager configs, alert rules and their tests: data, no code.

A package only so the files install with the kit and are found without a checkout
(:func:`plumbing.monitoring.monitoring_dir`); it imports nothing.
"""
