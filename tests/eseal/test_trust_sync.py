"""`eseal trust sync` against a live issuer on 127.0.0.1, and against bad ones."""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from eseal.server import create_app
from eseal.services import Services
from eseal.settings import Settings
from keys.store import KeyFolder

from .cli import eseal


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def issuer_url(env: Settings, services: Services) -> Iterator[str]:
    """The all-in-one server, really listening on 127.0.0.1."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(env, services=services),
        host="127.0.0.1",
        port=port,
        log_level="error",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/issuer/trust-bundle"
    server.should_exit = True
    thread.join(timeout=10)


#: gzip of gzip of 64 MiB of zeros: about 1 KB on the wire.
BOMB = gzip.compress(gzip.compress(bytes(64 * 1024 * 1024), mtime=0), mtime=0)


@pytest.fixture
def garbage_url() -> Iterator[str]:
    """A server that answers with text that is not a bundle, or with a bomb."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            bomb = self.path.endswith("bomb")
            body = BOMB if bomb else b"eyJhbGciOiJub25lIn0.e30."
            self.send_response(200)
            if bomb:
                self.send_header("Content-Encoding", "gzip, gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/bundle"
    server.shutdown()
    server.server_close()


def test_sync_fetches_checks_and_keeps_the_last_good_bundle(
    env: Settings, issuer_url: str, garbage_url: str
) -> None:
    root = env.keys_dir / "root.crt.pem"
    code, output = eseal("trust", "sync", issuer_url, "--root", str(root))
    assert code == 0, output
    kept = (env.verifier_dir / "bundle.jws").read_bytes()

    for bad in (
        garbage_url,
        garbage_url + "/bomb",
        issuer_url.replace("trust-bundle", "nothing"),
        f"http://127.0.0.1:{_free_port()}/issuer/trust-bundle",
    ):
        code, output = eseal("trust", "sync", bad)
        assert code == 2, output
        assert (env.verifier_dir / "bundle.jws").read_bytes() == kept


def test_sync_refuses_a_bundle_from_another_root(
    env: Settings, issuer_url: str, tmp_path: Path
) -> None:
    other = KeyFolder(tmp_path / "other")
    other.create_root(b"x" * 16, organisation="别的机关", now=dt.datetime.now(dt.UTC))
    code, output = eseal(
        "trust", "sync", issuer_url, "--root", str(other.root_cert_path)
    )
    assert code == 2 and "untrusted_issuer" in output
    assert not (env.verifier_dir / "bundle.jws").exists()
