"""The "react" half of AIOps: Alertmanager's webhook receiver and the runbook's simulated actions.

Public surface: :class:`ResponderSettings` (``from_env()``), :class:`Responder`, :func:`create_app`, :func:`load_runbook`.
"""

from ._app import Responder, create_app
from ._runbook import RUNBOOK_PATH, Step, load_runbook
from ._settings import ResponderSettings

__all__ = ["RUNBOOK_PATH", "Responder", "ResponderSettings", "Step", "create_app", "load_runbook"]
