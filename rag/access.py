"""Access control shared by the two servers (`rag chat`, `rag serve`): who may bind where.

Kept apart from the web app (rag/web/) so that `rag serve` checks its host without importing Gradio.
"""
from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def parse_auth(auth: str | tuple[str, str] | None) -> tuple[str, str] | None:
    """``"USER:PASSWORD"`` → ``(user, password)``; raises ValueError when malformed."""
    if auth is None or auth == "":
        return None
    if isinstance(auth, (tuple, list)):
        user, password = auth
    else:
        user, sep, password = str(auth).partition(":")
        if not sep:
            raise ValueError("--auth must be USER:PASSWORD")
    if not user or not password:
        raise ValueError("--auth must be USER:PASSWORD with a non-empty user and password")
    return str(user), str(password)


def is_loopback(host: str) -> bool:
    """True for an address or name that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = (host or "").strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_auth(host: str, auth: str | tuple[str, str] | None) -> tuple[str, str] | None:
    """The web app's credentials for serving on ``host``: ``auth`` parsed (see :func:`parse_auth`).

    Off loopback a password is required: without one this raises ValueError before anything starts.
    """
    credentials = parse_auth(auth)
    if not is_loopback(host) and credentials is None:
        raise ValueError(f"refusing to serve on {host} without a password: pass --auth USER:PASSWORD "
                         "(or RAG_AUTH), or bind to 127.0.0.1")
    return credentials
