"""Filters the templates share: a count with its noun, and the UTC times the pages show."""
import datetime as dt

from flask import Flask

TIME_FORMATS = {"day": "%Y-%m-%d", "minute": "%Y-%m-%d %H:%M", "second": "%Y-%m-%d %H:%M:%S"}


def plural(count: int, noun: str) -> str:
    """"1 member", "2 members", "1,204 members"."""
    return f"{count:,} {noun if count == 1 else noun + 's'}"


def utc(moment: dt.datetime, precision: str = "minute") -> str:
    """A stored (UTC) time as the pages write it: "2026-01-31 14:05 UTC"; a day alone has no zone."""
    text = moment.strftime(TIME_FORMATS[precision])
    return text if precision == "day" else f"{text} UTC"


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(plural=plural, utc=utc)
