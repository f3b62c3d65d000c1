"""One API call of the stand-in and its answer, HTTP-free (the handlers' common types)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    body: dict
    user: str
    base_url: str


@dataclass(frozen=True)
class Reply:
    status: int
    payload: dict
    location: str | None = None  # for a 302


def error(status: int, message: str) -> Reply:
    return Reply(status, {"code": status, "message": message})
