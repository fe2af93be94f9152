"""The thin vertical slice: our client and our server, and each against OpenSSL via the ssl module."""

from __future__ import annotations

from pathlib import Path

from tls12 import (
    ApplicationDataReceived,
    CipherSuite,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    HandshakeComplete,
    ServerConfig,
    ServerConnection,
)

from helpers import StdlibPeer, pump, pump_stdlib, stdlib_client_context, stdlib_server_context


def test_our_client_and_server(client_config: ClientConfig, server_config: ServerConfig) -> None:
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    client_events, server_events = pump(client, server)
    assert client_events == [HandshakeComplete()]
    assert server_events == [HandshakeComplete()]
    assert client.cipher_suite == server.cipher_suite == CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    client.send_application_data(b"ping")
    assert server.receive_data(client.data_to_send()) == [ApplicationDataReceived(b"ping")]
    server.send_application_data(b"pong")
    assert client.receive_data(server.data_to_send()) == [ApplicationDataReceived(b"pong")]
    client.close()
    assert server.receive_data(client.data_to_send()) == [ConnectionClosed()]
    assert client.receive_data(server.data_to_send()) == [ConnectionClosed()]
    assert client.closed and server.closed


def test_our_client_against_openssl_server(pem_dir: Path, client_config: ClientConfig) -> None:
    peer = StdlibPeer(stdlib_server_context(pem_dir), server_side=True)
    client = ClientConnection(client_config, server_name="localhost")
    assert pump_stdlib(client, peer) == [HandshakeComplete()]
    assert peer.obj.cipher() == ("ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2", 256)
    client.send_application_data(b"ping")
    peer.incoming.write(client.data_to_send())
    assert peer.obj.read() == b"ping"


def test_our_server_against_openssl_client(pem_dir: Path, server_config: ServerConfig) -> None:
    peer = StdlibPeer(stdlib_client_context(pem_dir), server_side=False, server_hostname="localhost")
    server = ServerConnection(server_config)
    assert pump_stdlib(server, peer) == [HandshakeComplete()]
    peer.obj.write(b"ping")
    assert server.receive_data(peer.outgoing.read()) == [ApplicationDataReceived(b"ping")]
