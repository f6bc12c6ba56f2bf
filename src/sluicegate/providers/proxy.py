"""Egress proxies: which upstream calls go through one, from the environment.

Companies often let servers reach the internet only through an HTTP proxy.
The usual variables say which: ``HTTPS_PROXY`` and ``HTTP_PROXY`` (or their
lower-case forms) name it per scheme, credentials in its URL, and ``NO_PROXY``
lists hosts reached directly. They are read once, when the gateway starts, and
each origin's answer is kept: looking it up per call would cost more than a
call's whole set-up. As in Go's HTTP client, a loopback upstream (a local
vLLM or Ollama) is never proxied.
"""

from __future__ import annotations

import ipaddress
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from yarl import URL

# Origins whose answer is kept; past this many the cache starts over.
MAX_ORIGINS = 1024


@dataclass(frozen=True, slots=True)
class Proxy:
    url: URL  # without credentials
    # Proxy-Authorization, from credentials in the proxy's URL
    headers: Mapping[str, str] | None


class ProxyRules:
    """The proxy (or none) for each upstream origin."""

    def __init__(self, environment: Mapping[str, str] | None = None) -> None:
        """``environment``: the variables by scheme as urllib reads them (``{"https":
        URL, "no": "host,.domain"}``); default: this process's environment."""
        found = (
            urllib.request.getproxies_environment() if environment is None else dict(environment)
        )
        self._bypass = _no_proxy(found.get("no", ""))
        self._by_scheme: dict[str, Proxy] = {}
        for scheme in ("http", "https"):
            if value := found.get(scheme):
                # "proxy.corp:3128" means http://, as curl reads it
                proxy = URL(value if "://" in value else f"http://{value}")
                headers = None
                if proxy.user:
                    credentials = f"{proxy.user}:{proxy.password or ''}".encode()
                    headers = {"Proxy-Authorization": f"Basic {b64encode(credentials).decode()}"}
                self._by_scheme[scheme] = Proxy(proxy.with_user(None), headers)
        self._of: dict[tuple[str, str, int], Proxy | None] = {}

    def __bool__(self) -> bool:
        return bool(self._by_scheme)

    def for_url(self, url: URL) -> Proxy | None:
        key = (url.scheme, url.raw_host or "", url.port or 0)
        try:
            return self._of[key]
        except KeyError:
            pass
        if len(self._of) >= MAX_ORIGINS:
            self._of.clear()
        proxy = self._of[key] = self._decide(url)
        return proxy

    def _decide(self, url: URL) -> Proxy | None:
        proxy = self._by_scheme.get(url.scheme)
        host = url.raw_host or ""
        if proxy is None or _loopback(host):
            return None
        if any(rule(host.lower(), url.port) for rule in self._bypass):
            return None
        return proxy


Bypass = Callable[[str, int | None], bool]


def _no_proxy(value: str) -> list[Bypass]:
    """NO_PROXY as curl reads it: ``*``, host names matching themselves and their
    subdomains (a leading dot or not), IP addresses and CIDR ranges, each with an
    optional ``:port``."""
    rules: list[Bypass] = []
    for entry in (e.strip().lower() for e in value.split(",")):
        if not entry:
            continue
        if entry == "*":
            return [lambda _host, _port: True]
        port: int | None = None
        name, sep, rest = entry.rpartition(":")
        # host:port or [v6]:port; a bare IPv6 address has colons of its own
        if sep and rest.isdigit() and (":" not in name or name.endswith("]")):
            entry, port = name, int(rest)
        rules.append(_rule(entry.strip("[]").lstrip("."), port))
    return rules


def _rule(entry: str, port: int | None) -> Bypass:
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        network = None

    def matches(host: str, host_port: int | None) -> bool:
        if port is not None and host_port != port:
            return False
        if network is not None:
            try:
                return ipaddress.ip_address(host.strip("[]")) in network
            except ValueError:
                return False
        return host == entry or host.endswith("." + entry)

    return matches


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
