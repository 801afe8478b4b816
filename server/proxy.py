"""Behind a proxy: which peers are believed, and what they say about the client (RFC 7239, X-Forwarded-*).

    --trusted-proxy 10.0.0.0/8 --trusted-proxy ::1 ──► TrustedProxies (parsed once, at start-up)
    a trusted peer's Forwarded (preferred) or X-Forwarded-For/-Proto ──► REMOTE_ADDR, wsgi.url_scheme

Only addresses and CIDR ranges are accepted (`ipaddress`): a name (`localhost`), a wildcard (`*`) or a
typo is a ValueError at start-up, never a rule that silently matches nothing. A unix-socket peer (no
address, REMOTE_ADDR "") is always trusted, as gunicorn does: who may connect is decided by the socket
file's permissions, and the peer is the local proxy.

The client is the rightmost address that is not a trusted proxy: each proxy appends the peer it saw,
so everything left of the last untrusted hop may be forged by the client.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from server._grammar import TOKEN_PATTERN

__all__ = ["TrustedProxies", "apply_forwarded", "parse_trusted_proxies"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# RFC 7239 §4: forwarded-pair = token "=" value, value = token / quoted-string.
_PAIR = re.compile(rf'\s*({TOKEN_PATTERN})=("(?:[^"\\]|\\.)*"|[^;,"\s]*)\s*')


class TrustedProxies:
    """The set of peers whose forwarding headers are believed: `address in trusted`."""

    __slots__ = ("_networks", "_known", "_cache_entries")

    def __init__(self, networks: Iterable[_Network], cache_entries: int = 0) -> None:
        self._networks = tuple(networks)
        # Peer addresses already judged, at most `cache_entries` (Config.lookup_cache_entries): clients
        # choose their addresses. Shared by the worker threads without a lock: under the GIL a dict get or
        # set is atomic, and two threads judging the same address store the same verdict.
        self._known: dict[str, bool] = {}
        self._cache_entries = cache_entries

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, address: str) -> bool:
        known = self._known.get(address)
        if known is None:
            known = _in_networks(address, self._networks)
            if len(self._known) < self._cache_entries:
                self._known[address] = known
        return known


def _in_networks(address: str, networks: tuple[_Network, ...]) -> bool:
    if not address:  # a unix-socket peer (see the module docstring)
        return True
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])  # an IPv6 zone id does not matter here
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def parse_trusted_proxies(values: Iterable[str], cache_entries: int = 0) -> TrustedProxies:
    """`--trusted-proxy` values (addresses or CIDR ranges) -> TrustedProxies; ValueError naming a bad one.

    `cache_entries`: how many verdicts to remember (0: none, for a check of the values alone).
    """
    networks = []
    for value in values:
        try:
            # strict=False: "10.1.2.3/8" is the range holding 10.1.2.3 (nginx's set_real_ip_from reads it so)
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"--trusted-proxy {value!r} is not an IP address or CIDR range (such as 10.0.0.0/8 or ::1); "
                "names and wildcards are not accepted"
            ) from None
    return TrustedProxies(networks, cache_entries)


def apply_forwarded(environ: dict, trusted: TrustedProxies) -> None:
    """Set REMOTE_ADDR and wsgi.url_scheme from a trusted peer's forwarding headers.

    RFC 7239 `Forwarded` wins when present; otherwise X-Forwarded-For and X-Forwarded-Proto.
    """
    forwarded = environ.get("HTTP_FORWARDED")
    if forwarded:
        _apply_rfc7239(environ, forwarded, trusted)
        return
    chain = environ.get("HTTP_X_FORWARDED_FOR")
    if chain:
        for address in reversed([part.strip() for part in chain.split(",")]):
            if address and address not in trusted:
                if _is_ip(address):
                    environ["REMOTE_ADDR"] = address
                break
    proto = environ.get("HTTP_X_FORWARDED_PROTO", "").strip().lower()
    if proto in ("http", "https"):
        environ["wsgi.url_scheme"] = proto


def _apply_rfc7239(environ: dict, value: str, trusted: TrustedProxies) -> None:
    """RFC 7239 §4: elements (one per proxy, comma-separated) of `;`-separated pairs.

    Walking from the right, the first element whose `for` is not a trusted proxy describes the client's
    own connection: its `for` is the client, its `proto` the scheme the client used. A malformed header
    changes nothing (a proxy would not send one; a client might).
    """
    elements = _parse_elements(value)
    if elements is None or not elements:
        return
    chosen = elements[0]
    for element in reversed(elements):
        node = _node_address(element.get("for", ""))
        if node is None or node not in trusted:
            chosen = element
            if node is not None:
                environ["REMOTE_ADDR"] = node
            break
    proto = chosen.get("proto", "").lower()
    if proto in ("http", "https"):
        environ["wsgi.url_scheme"] = proto


def _parse_elements(value: str) -> list[dict[str, str]] | None:
    """The elements of a Forwarded value as dicts (lower-case names, unquoted values); None if malformed."""
    elements: list[dict[str, str]] = [{}]
    position = 0
    while position < len(value):
        match = _PAIR.match(value, position)
        if match is None:
            return None
        name, raw = match.group(1).lower(), match.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elements[-1][name] = raw
        position = match.end()
        if position < len(value):
            separator = value[position]
            if separator == ",":
                elements.append({})
            elif separator != ";":
                return None
            position += 1
            while position < len(value) and value[position] in " \t":
                position += 1
    return [element for element in elements if element]


def _node_address(node: str) -> str | None:
    """RFC 7239 §6 node -> its IP address without port; None for "unknown", "_hidden" or garbage."""
    if node.startswith("["):  # "[2001:db8::1]:4711"
        host = node[1 : node.find("]")] if "]" in node else ""
    else:
        host = node.rpartition(":")[0] if node.count(":") == 1 else node
    return host if _is_ip(host) else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
