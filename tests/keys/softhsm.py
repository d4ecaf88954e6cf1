"""SoftHSM2 tokens for tests: one configuration per run, a fresh token per test.

SoftHSM reads ``SOFTHSM2_CONF`` and scans its token folder when the module is
initialised, and python-pkcs11 keeps one loaded module per path for the whole
process.  So the run gets one configuration (set before the module is first
loaded), each test initialises a new token with ``softhsm2-util``, and the
module is then re-initialised so that it sees the new token.  Re-initialising
closes every open session, which is why each test closes its signers.

Import ``softhsm_fixture`` and ``softhsm_token_fixture`` into a test module
to use the ``softhsm_token`` fixture.  Without SoftHSM2 its
tests are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest

from keys.pkcs11 import TokenConfig, find_library

from ..logscan import keep_out_of_logs

__all__ = ["SoftHsm", "softhsm_fixture", "softhsm_token_fixture"]

_labels = itertools.count(1)


@dataclass(frozen=True)
class SoftHsm:
    """The run's SoftHSM2 installation and configuration."""

    util: str
    library: str
    conf: Path

    def init_token(self, label: str, pin: str) -> None:
        so_pin = keep_out_of_logs(secrets.token_hex(8), "security officer PIN")
        subprocess.run(
            [
                self.util,
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                so_pin,
                "--pin",
                pin,
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
        )
        # Let the loaded module rescan the token folder.
        pkcs11.lib(self.library).reinitialize()


@pytest.fixture(name="softhsm", scope="session")
def softhsm_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """SoftHSM2 with a configuration of this run's own, or a skip."""
    util = shutil.which("softhsm2-util")
    library = find_library()
    if util is None or library is None:
        if os.environ.get("CI") == "true":
            pytest.fail("SoftHSM2 is required in CI (run .ci/softhsm.sh)")
        pytest.skip("SoftHSM2 is not installed (run .ci/softhsm.sh)")

    home = tmp_path_factory.mktemp("softhsm")
    tokens = home / "tokens"
    tokens.mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n",
        "utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        yield SoftHsm(util, library, conf)
        pkcs11.lib(library).finalize()


@pytest.fixture(name="softhsm_token")
def softhsm_token_fixture(softhsm: SoftHsm) -> TokenConfig:
    """A freshly initialised, empty token with a random user PIN."""
    label = f"eseal-test-{next(_labels)}"
    pin = keep_out_of_logs("pin-" + secrets.token_hex(8), "PIN")
    softhsm.init_token(label, pin)
    return TokenConfig(library=softhsm.library, token_label=label, pin=pin)
