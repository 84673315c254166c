"""The ``aiops`` command and the demo that ties the kit's parts together."""
