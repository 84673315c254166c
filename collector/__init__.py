"""The collector: the simulated fleet's metrics (live and backfilled) and the incident API."""
