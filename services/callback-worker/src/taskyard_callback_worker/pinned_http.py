"""One POST to an address checked beforehand, never to a fresh DNS answer.

The connection goes to the IP address the SSRF check passed, while the Host header and
TLS (SNI and certificate check) use the URL's name; the peer actually connected to is
checked once more. Redirects are not followed (http.client never does).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from typing import Any

from taskyard_common.callbacks.address_policy import IPAddress, Target

MAX_RESPONSE_BYTES = 64 * 1024


class PeerChanged(ConnectionError):
    """Connected somewhere other than the checked address."""


def _connect(address: IPAddress, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((str(address), port), timeout=timeout)
    peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%")[0])
    if peer != address:
        sock.close()
        raise PeerChanged(f"connected to {peer}, not the checked {address}")
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, address: IPAddress, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect(self._address, self.port, self.timeout)  # type: ignore[arg-type]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, address: IPAddress, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = address

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self.timeout)  # type: ignore[arg-type]
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """The receiver's status code; raises OSError (or http.client's errors) when there is none.

    Tries the checked addresses in order until one connects.
    """
    connection_type: Any = (
        _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    )
    last_error: OSError = ConnectionError("no address")
    for address in target.addresses:
        connection = connection_type(target, address, timeout)
        try:
            try:
                connection.connect()
            except PeerChanged:
                raise
            except OSError as error:
                last_error = error
                continue
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            return int(response.status)
        finally:
            connection.close()
    raise last_error
