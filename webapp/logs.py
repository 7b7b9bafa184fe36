"""The one logging setup of the web, the worker and the scheduler: every line on standard error with its time,
level and logger, and the team and run ids when it is about a run; one JSON object a line with LOG_FORMAT=json.

A line's structured fields (a request's method, path and status; a security event) go in `extra={"fields": {...}}`,
and the ids in `extra={"team_id": ..., "run_id": ...}`.
"""
import json
import logging
import sys
from typing import TextIO

IDS = ("team_id", "run_id")


class TextFormatter(logging.Formatter):
    """`time level logger message team=… run=…`, a line break in the message written as \\n so it cannot forge a
    line (a traceback keeps its own lines)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")
        ids = " ".join(f"{name.split('_')[0]}={getattr(record, name)}" for name in IDS if hasattr(record, name))
        return f"{text} {ids}" if ids else text


class JsonFormatter(logging.Formatter):
    """One JSON object a line: the line's fields first, then time, level, logger, the ids and the message."""

    def format(self, record: logging.LogRecord) -> str:
        line = dict(getattr(record, "fields", None) or {})
        line.update(time=self.formatTime(record), level=record.levelname, logger=record.name)
        line.update({name: getattr(record, name) for name in IDS if hasattr(record, name)})
        if not getattr(record, "fields", None):
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class Handler(logging.StreamHandler[TextIO]):
    """The setup's own handler on the root logger, told apart from any other (pytest's, for one); it writes to
    whatever standard error is at the time of each line."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        """Always standard error."""


def setup(log_format: str = "text", level: int = logging.INFO) -> None:
    """Send every logger's lines of `level` and above to standard error in `log_format` (text or json); calling it
    again changes the format, it adds no second handler."""
    root = logging.getLogger()
    handler = next((each for each in root.handlers if isinstance(each, Handler)), None)
    if handler is None:
        handler = Handler()
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.setLevel(level)
