"""Where alert webhooks may go: public internet addresses, and what the operator allows.

Whoever adds an alert rule chooses a URL the server will POST to. Unchecked, that
lets them reach what only the server can reach: a cloud's metadata service
(169.254.169.254), the database, admin ports on localhost, the office network. So a
webhook is checked twice, by one :class:`WebhookPolicy`:

- when a rule is stored (:meth:`WebhookPolicy.refusal`): its form, and the addresses
  its host resolves to at that moment, so a mistake is refused with the form;
- before each POST (:meth:`WebhookPolicy.destinations`): the host is resolved again and
  every address checked, and the sender connects to a checked address, never to the
  name (see ``delivery.py``), so a name that resolves elsewhere by then (DNS
  rebinding) cannot swap the address between the check and the connection.

An address is public when Python's ``ipaddress`` calls it global and it is not
multicast, and when the IPv4 address an IPv6 one carries (IPv4-mapped, IPv4-compatible,
6to4, NAT64) is public too. ``REASONLENS_ALERT_WEBHOOK_ALLOW`` adds addresses,
networks and host names (a name allowed is trusted to resolve anywhere).

Only http and https are sent. A URL with credentials (``user:pass@host``) is refused:
such URLs read as one host and go to another (``https://hooks.example.com@10.0.0.5/``),
and parsers disagree about them; a receiver that needs a secret takes it in the path.

``DestinationRefused`` (a ``ValueError``) is the one error: its message says why, and
how to allow the destination when it is an address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses a connection to it may use; socket.gaierror when none.
Resolver = Callable[[str, int], list[Address]]

ALLOW_SETTING = "REASONLENS_ALERT_WEBHOOK_ALLOW"
SCHEMES = ("http", "https")
# RFC 6052's well-known NAT64 prefix: a gateway forwards to the IPv4 address in its
# last 32 bits, which may be internal; Python calls the prefix global.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# IPv4-compatible addresses (deprecated, RFC 4291): some stacks still route them as IPv4.
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class DestinationRefused(ValueError):
    """A webhook the server will not send to; the message says why."""


def system_resolver(host: str, port: int) -> list[Address]:
    """The addresses the operating system gives for the host, in its order, once each.

    Numeric forms (``127.1``, ``2130706433``, ``0x7f.1``) come out as the address they
    name, so they are checked like any other."""
    found: list[Address] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # no scope id
        if address not in found:
            found.append(address)
    return found


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for, where packets to it may end up."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def not_public(address: Address) -> str | None:
    """What kind of address this is when it is not a public one (None when it is)."""
    inner = embedded_ipv4(address)
    if inner is not None:  # the IPv4 address is where it goes (Python calls ::/8 reserved)
        kind = not_public(inner)
        return f"{kind} ({inner}) in IPv6 form" if kind is not None else None
    for kind, held in [
        ("an unspecified address", address.is_unspecified),
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
    ]:
        if held:
            return kind
    if not address.is_global:  # shared address space (100.64.0.0/10, carrier NAT), ...
        return "not a public address"
    return None


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    """Public addresses, plus the allowed networks and host names."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> WebhookPolicy:
        """From the setting's entries: an address, a network (CIDR) or a host name each;
        ValueError names a bad one."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in (entry.strip() for entry in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = _host_name(entry)
            if name is None or "/" in entry:
                raise ValueError(
                    f"{entry!r} is neither an address, a network (10.0.0.0/8) nor a host "
                    "name (international names in their xn-- form)"
                )
            hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, address: Address) -> bool:
        """Public, or inside an allowed network (as itself or as the IPv4 it carries)."""
        if not_public(address) is None:
            return True
        inner = embedded_ipv4(address)
        return any(
            candidate in network
            for network in self.networks
            for candidate in (address, inner)
            if candidate is not None and candidate.version == network.version
        )

    def refusal(self, url: str, resolver: Resolver = system_resolver) -> str | None:
        """Why a rule may not send to ``url``, or None. A host name that does not
        resolve now is let through: it is checked again, resolved, before each POST."""
        try:
            self.destinations(url, resolver)
        except DestinationRefused as error:
            return str(error)
        except OSError:
            return None  # no answer from DNS today; the sender checks what it gets
        return None

    def destinations(
        self, url: str, resolver: Resolver = system_resolver
    ) -> tuple[httpx.URL, list[Address]]:
        """The parsed URL and the addresses a POST to it may connect to, all checked.

        :class:`DestinationRefused` when the URL is not one to send to, or any address
        its host resolves to is neither public nor allowed (a name with one internal
        address among public ones is refused: which one a client picks is not ours to
        predict). ``OSError`` (``socket.gaierror``) when the name does not resolve."""
        parsed = parse(url)
        host = ascii_host(parsed)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses: list[Address] = [ipaddress.ip_address(host)]
            literal = True
        except ValueError:
            addresses = resolver(host, port)
            if not addresses:
                raise socket.gaierror(f"{host} has no address") from None
            if _host_name(host) in self.hosts:
                return parsed, addresses
            literal = False
        for address in addresses:
            if not self.allows(address):
                named = host if literal else f"{host} resolves to {address}"
                name = "" if literal else f", or the host name {host},"
                raise DestinationRefused(
                    f"{named}, {not_public(address)}: webhooks may reach public internet "
                    f"addresses only. To allow it, an operator adds {address} (or its "
                    f"network){name} to {ALLOW_SETTING}"
                )
        return parsed, addresses


def parse(url: str) -> httpx.URL:
    """The URL as httpx reads it (the same parser sends it, so the host checked is
    the host connected to); :class:`DestinationRefused` when it is not one to send."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoding an IDNA name may fail only here
    except (httpx.InvalidURL, UnicodeError) as error:
        raise DestinationRefused(f"not a URL that can be sent to: {error}") from None
    if parsed.scheme not in SCHEMES or not host:
        raise DestinationRefused("must be an http:// or https:// URL with a host")
    if parsed.userinfo:
        raise DestinationRefused(
            "must not hold credentials (user:password@): put the receiver's secret in the path"
        )
    return parsed


def ascii_host(url: httpx.URL) -> str:
    """The host as sent on the wire (IDNA names in their ``xn--`` form): what is resolved,
    compared with the allow-list and given as the TLS server name, so that no second
    IDNA encoding (Python's ``socket`` uses an older one than httpx) can differ."""
    return url.raw_host.decode("ascii")


def _host_name(text: str) -> str | None:
    """A host name as compared with the allow-list: lower case, no final dot."""
    name = text.lower().rstrip(".")
    if not name or any(not (char.isascii() and (char.isalnum() or char in "-._")) for char in name):
        return None
    return name
