"""TLS with the standard `ssl` module: the server's context, built once from the Config.

    --certfile/--keyfile (+ --ca-certs/--cert-reqs) ──► server_context() ──► ssl.SSLContext | None

TLS 1.2 is the minimum (RFC 8996 deprecates 1.0 and 1.1); ALPN offers only "http/1.1" (RFC 7301), so
a client that wants h2 falls back instead of failing. The handshake itself is driven without blocking by
the dispatcher (see `server.dispatcher`), so a slow or silent client never holds a thread.
"""

from __future__ import annotations

import ssl

from server.config import Config

__all__ = ["CERT_REQS", "server_context"]

CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def server_context(config: Config) -> ssl.SSLContext | None:
    """The SSLContext for config.certfile/keyfile, or None when TLS is off.

    Raises ValueError for an inconsistent configuration, ssl.SSLError / OSError for unreadable or
    mismatched files (start-up errors, reported before anything is served).
    """
    if config.certfile is None:
        if config.keyfile is not None or config.ca_certs is not None:
            raise ValueError("--keyfile and --ca-certs need --certfile")
        return None
    if config.cert_reqs not in CERT_REQS:
        raise ValueError(f"cert_reqs must be one of {', '.join(CERT_REQS)}, not {config.cert_reqs!r}")
    if config.cert_reqs != "none" and config.ca_certs is None:
        raise ValueError(f"--cert-reqs {config.cert_reqs} needs --ca-certs (to check client certificates)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.certfile, config.keyfile)
    context.set_alpn_protocols(["http/1.1"])
    context.options |= ssl.OP_NO_COMPRESSION  # CRIME (RFC 7457 §2.6)
    if config.ca_certs is not None:
        context.load_verify_locations(config.ca_certs)
    context.verify_mode = CERT_REQS[config.cert_reqs]
    return context
