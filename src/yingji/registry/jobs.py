"""Job handlers of the registry (imported by the worker's autodiscovery of ``<app>.jobs``)."""
from . import exports, imports  # noqa: F401
