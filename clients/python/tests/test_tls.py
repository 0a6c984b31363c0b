"""The client over TLS, and HTTPS to the gateway.

These tests need a storeplatformd serving TLS with optional client
certificates, named by environment variables (Tests/DaemonTests/TLSTests.swift
starts one and sets them):

    STOREPLATFORM_TEST_TLS_TCP    its TCP listener, host:port
    STOREPLATFORM_TEST_TLS_HTTP   its HTTPS gateway, host:port
    STOREPLATFORM_TEST_TLS_DIR    the directory of ca.pem, client.pem/.key,
                                  expired.pem/.key and other.pem/.key
    STOREPLATFORM_TEST_TLS_TOKEN  a token of its --token-file

Without them the tests are skipped.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from storeplatform_client import Client, UnauthenticatedError, UnavailableError, tls_context  # noqa: E402

TCP = os.environ.get("STOREPLATFORM_TEST_TLS_TCP")
HTTP = os.environ.get("STOREPLATFORM_TEST_TLS_HTTP")
DIR = os.environ.get("STOREPLATFORM_TEST_TLS_DIR", "")
TOKEN = os.environ.get("STOREPLATFORM_TEST_TLS_TOKEN")

pytestmark = pytest.mark.skipif(
    not (TCP and HTTP and DIR and TOKEN), reason="needs a TLS daemon: STOREPLATFORM_TEST_TLS_* (see this file's docstring)"
)


def pki(name: str) -> str:
    return os.path.join(DIR, name)


def tcp_client(**kwargs) -> Client:
    host, port = TCP.rsplit(":", 1)
    return Client.tcp(host, int(port), timeout=30, **kwargs)


def test_health_over_tls_with_a_token() -> None:
    with tcp_client(token=TOKEN, ca=pki("ca.pem")) as client:
        assert client.health().status == "SERVING"


def test_a_client_certificate_replaces_the_token_and_names_the_caller() -> None:
    context = tls_context(ca=pki("ca.pem"), cert=pki("client.pem"), key=pki("client.key"))
    with tcp_client(ssl_context=context) as client:
        store = client.create_store("py-tls-shop")
        events = client.list_audit(store_id=store.id).events
        assert "cert:CN=billing,O=Example" in [event.actor for event in events]


def test_without_token_or_certificate_calls_are_refused() -> None:
    with tcp_client(ca=pki("ca.pem")) as client:
        with pytest.raises(UnauthenticatedError):
            client.health()


def test_an_untrusted_daemon_certificate_is_refused() -> None:
    with pytest.raises(UnavailableError, match="the daemon's certificate is not trusted"):
        tcp_client(token=TOKEN, ca=pki("other-ca.pem"))


def test_a_client_certificate_of_another_ca_is_refused() -> None:
    with pytest.raises(UnavailableError, match="not signed by a CA it trusts"):
        with tcp_client(ca=pki("ca.pem"), cert=pki("other.pem"), key=pki("other.key")) as client:
            client.health()


def test_an_expired_client_certificate_is_refused() -> None:
    with pytest.raises(UnavailableError, match="expired"):
        with tcp_client(ca=pki("ca.pem"), cert=pki("expired.pem"), key=pki("expired.key")) as client:
            client.health()


def https(path: str, context: ssl.SSLContext, method: str = "GET", body: bytes | None = None,
          headers: dict | None = None):
    request = urllib.request.Request(f"https://{HTTP}{path}", data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return response.status, json.loads(response.read() or b"{}")


def test_https_gateway() -> None:
    status, health = https("/api/health", ssl.create_default_context(cafile=pki("ca.pem")))
    assert status == 200
    assert health["status"] == "SERVING"


def test_https_gateway_with_a_client_certificate_names_the_caller() -> None:
    context = tls_context(ca=pki("ca.pem"), cert=pki("client.pem"), key=pki("client.key"))
    status, created = https("/api/stores", context, "POST", json.dumps({"name": "https-shop"}).encode(),
                            {"Content-Type": "application/json"})
    assert status == 202
    store_id = created["id"]
    _, audit = https(f"/api/audit?store_id={store_id}", context)
    assert "cert:CN=billing,O=Example" in [event["actor"] for event in audit["events"]]


def test_https_gateway_refuses_an_untrusted_client() -> None:
    context = tls_context(ca=pki("ca.pem"), cert=pki("other.pem"), key=pki("other.key"))
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        https("/api/health", context)
