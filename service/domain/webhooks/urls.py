"""Which webhook URLs are accepted, and which addresses a delivery may connect to.

Only ``http`` and ``https`` URLs with a host, no credentials, no fragment, at most
``MAX_URL_LENGTH`` characters. Every address the host resolves to must be public: loopback,
private (RFC 1918, unique local), link-local (which holds the cloud metadata endpoint
169.254.169.254), shared (100.64/10), multicast, reserved and unspecified addresses are
refused — an IPv6 address that embeds an IPv4 one (mapped, NAT64, 6to4) is judged by the
IPv4 one — unless ``CX_WEBHOOK_ALLOW_PRIVATE`` is set. Pure: resolving the host is the
caller's (service/webhooks/transport.py).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from service.domain.errors import BadUserInput

MAX_URL_LENGTH = 2048
SCHEMES = frozenset({"http", "https"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class WebhookUrl:
    url: str
    scheme: str
    host: str  # lower case, without brackets for IPv6
    port: int


def parse_url(url: str) -> WebhookUrl:
    """The URL checked for its form (not its addresses); BAD_USER_INPUT names the fault."""

    def refuse(why: str) -> BadUserInput:
        return BadUserInput(f"url: {why}", reason="INVALID_URL", field="url")

    if len(url) > MAX_URL_LENGTH:
        raise BadUserInput(f"url: longer than {MAX_URL_LENGTH} characters",
                           reason="URL_TOO_LONG", field="url")  # fmt: skip
    if not url or url != url.strip() or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise refuse("empty, or holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refuse(f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise refuse(f"only http and https URLs are accepted, not {scheme or 'none'!r}")
    if not parts.hostname:
        raise refuse("no host")
    if parts.username is not None or parts.password is not None:
        raise refuse("credentials in the URL are not accepted: receivers verify the signature")
    if parts.fragment or url.endswith("#"):
        raise refuse("a fragment is never sent: leave it out")
    return WebhookUrl(url=url, scheme=scheme, host=parts.hostname,
                      port=port or (443 if scheme == "https" else 80))  # fmt: skip


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal(address: IPAddress) -> str | None:
    """Why a delivery may not connect to ``address`` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded)
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata lives there)"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not public"),
    )
    return next((why for refused, why in checks if refused), None)


def check_addresses(host: str, addresses: list[IPAddress], allow_private: bool) -> None:
    """Every address of ``host`` must be allowed; one that is not refuses them all."""
    if not addresses:
        raise BadUserInput(f"url: the host {host!r} has no address", reason="UNRESOLVABLE_HOST",
                           field="url")  # fmt: skip
    if allow_private:
        return
    for address in addresses:
        why = refusal(address)
        if why is not None:
            raise BadUserInput(
                f"url: {host!r} resolves to {address}, a {why} address; webhooks go to public "
                "addresses only (CX_WEBHOOK_ALLOW_PRIVATE allows others)",
                reason="PRIVATE_ADDRESS", field="url",
            )  # fmt: skip
