"""The run's log scan (tests/logscan.py) finds each kind of secret, and only those."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from credential import base45
from credential.checkcode import check_code
from eseal.settings import DEV_PASSPHRASE
from schemas.checks import citizen_id_check_char

from .logscan import (
    BOOK,
    MIN_RECORDS,
    Finding,
    LogScan,
    SecretBook,
    frame_record,
    keep_out_of_logs,
    scan,
)

_FORMAT = logging.Formatter(
    "%(levelname)s %(name)s %(filename)s:%(lineno)d | %(message)s"
)
TEST = "tests/test_logscan.py::test_one[x]"


def _log(*messages: str, logger: str = "issuer.service") -> str:
    """Records in the scan's framing, as one test's part of the run's log."""
    records = [
        frame_record(
            logging.LogRecord(logger, logging.INFO, "/x/y.py", 7, m, (), None), _FORMAT
        )
        for m in messages
    ]
    return "\x1d" + TEST + "\n" + "".join(records)


def _citizen_id(first17: str) -> str:
    return first17 + citizen_id_check_char(first17)


def _private_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"a passphrase"),
    ).decode()


def _disclosure() -> str:
    data = json.dumps(["c2FsdHNhbHQ", "name", "王秀英"], ensure_ascii=False)
    return base64.urlsafe_b64encode(data.encode()).rstrip(b"=").decode()


def _book() -> SecretBook:
    book = SecretBook()
    book.add_examples()
    book.add(DEV_PASSPHRASE, "development passphrase")
    book.add("correct horse 1", "password")
    return book


def _private_jwk() -> str:
    return ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()))


#: One leak of each kind, as eSeal could write it by mistake.
LEAKS: dict[str, Callable[[], str]] = {
    "PEM private key": lambda: f"loaded {_private_pem()}",
    "private JWK": lambda: f"holder key {_private_jwk()}",
    "API key": lambda: f"refused key esk_{secrets.token_urlsafe(32)}",
    "API key of a verifier": lambda: (
        f"headers {{'x-api-key': 'evk_{secrets.token_urlsafe(32)}'}}"
    ),
    "wallet session token": lambda: f"cookie s=ses.{secrets.token_urlsafe(32)}",
    "citizen ID number": lambda: f"search for {_citizen_id('44030419950101003')}",
    "citizen ID number ending in X": lambda: f"id={_citizen_id('11010519491231002')};",
    "citizen ID number ending in a small x": lambda: (
        f"id={_citizen_id('11010519491231002').lower()};"
    ),
    "mobile number": lambda: "sign-in for 13912345678 refused",
    "mobile number with +86": lambda: "sign-up +8613912345678",
    "proof check code": lambda: f"lookup {check_code(b'k' * 32, 'WFZ202600000123')}",
    "QR credential text": lambda: f"scanned ES1:{base45.encode(bytes(range(120)))}",
    "SD-JWT disclosure": lambda: f"presentation ~{_disclosure()}~",
    "development passphrase": lambda: f"passphrase: {DEV_PASSPHRASE}",
    "password": lambda: "form {'password': 'correct horse 1'}",
    "name in examples/resident-id.json": lambda: "claims {'name': '王秀英'}",
    "ID number in examples/resident-id.json": lambda: "id_number=370902198808154021",
    "address in examples/resident-id.json": lambda: (
        "address 山东省泰安市泰山区东岳大街街道岱宗大街168号泰山花园小区7号楼2单元501室"
    ),
}


@pytest.mark.parametrize("name", LEAKS)
def test_each_kind_of_leak_is_found(name: str) -> None:
    line = LEAKS[name]()

    found = scan(_log("a harmless line", line, "another"), _book())

    assert found, f"{name} went unnoticed in {line!r}"
    assert {f.logger for f in found} == {"issuer.service"}
    assert {f.source for f in found} == {"y.py:7"}
    assert {f.test for f in found} == {TEST}
    assert any(name.startswith(f.kind) or f.kind == name for f in found), found


def test_made_tokens_are_found_wherever_they_stand() -> None:
    book = SecretBook()
    token = secrets.token_urlsafe(32)
    code = secrets.token_urlsafe(24)
    book.add(token, "access token")
    book.add(code, "offer code")

    for line in (
        f"GET /wallet/enter?token={token} 302",
        f"code={code}&x=1",
        f"Bearer {token}",
        f"{{'code': '{code}'}}",
        f"prefix_{token}_suffix",
    ):
        assert [f.kind for f in scan(_log(line), book)] in (
            ["access token"],
            ["offer code"],
        ), line


def test_key_files_and_service_secrets_are_found(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    secret = secrets.token_bytes(32).hex()
    (tmp_path / "home" / "wallet_storage_key.secret").write_text(secret + "\n")
    pem = _private_pem()
    (tmp_path / "home" / "root.key.pem").write_text(pem)
    book = SecretBook()
    book.add_files(tmp_path)

    key_line = pem.splitlines()[3]
    assert [f.kind for f in scan(_log(f"key {secret}"), book)] == ["service secret"]
    assert [f.kind for f in scan(_log(f"b'{key_line}'"), book)] == [
        "line of a key file"
    ]


def test_what_is_found_is_reported_without_the_value() -> None:
    key = "esk_" + secrets.token_urlsafe(32)

    (finding,) = scan(_log(f"refused {key}", logger="web.access"), SecretBook())

    assert finding == Finding(
        "API key", "web.access", "y.py:7", TEST, "47 characters, starting 'esk_'"
    )
    assert key[4:] not in str(finding)


_VALID_ID = _citizen_id("11010519491231002")

#: Lines that look a little like secrets and are not: none may be found.
HARMLESS = (
    "test_no_private_key_in_logs: PRIVATE KEY files are encrypted",
    "-----BEGIN CERTIFICATE-----",
    "issued resident-id credential SFZ202600000123",
    "proof WFZ202600000123 printed; 泰公(无犯)证字〔2026〕第000123号",
    # 18 digits with a wrong check character, with no such region, or with no
    # such birth date; parts of longer numbers; microseconds since 1970.
    "number 370902198808154022 refused",
    "number 990902198808154021 refused",
    "number 370902198813154021 refused",
    f"sequence 1{_VALID_ID} and {_VALID_ID}1",
    "bundle 1796371200123456 issued at 1796371200",
    f"digest {_VALID_ID}{_VALID_ID}a1 {_VALID_ID}c",
    # A truncated key, an API key's prefix, digests of SD-JWT disclosures.
    "key esk_abcd… revoked",
    "sd digest X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0",
    "verification: INVALID malformed; a QR text starts with ES1: and Base45",
    "a check code looks like ABCDE-FGHJK; SHA-256; HMAC-SHA256",
    "counter 13800138000123 and 0.13800138000 and 213800138000",
    "kid 1f4c7a1b2c3d4e5f6a7b8c9d0e1f2a3b status list 2",
)


def test_harmless_lines_are_not_findings() -> None:
    assert scan(_log(*HARMLESS), _book()) == []


def test_test_names_are_not_searched() -> None:
    log = "\x1dtests/x.py::test_id[370902198808154021]\n" + _log("ok")[1:]

    assert scan(log, _book()) == []


def test_values_too_short_to_search_for_are_refused() -> None:
    book = SecretBook()
    with pytest.raises(ValueError, match="too short"):
        book.add("1234", "PIN")
    book.add("张三", "name")  # two Chinese characters are a name
    made_up = b"logscan's own passphrase"
    assert keep_out_of_logs(made_up, "passphrase") == made_up
    assert BOOK.phrases[made_up.decode()] == "passphrase"


def test_a_record_cannot_forge_the_framing() -> None:
    record = logging.LogRecord(
        "web", logging.INFO, "/x/y.py", 1, "a\x1eINFO fake x.py:1 | \x1dtest", (), None
    )

    framed = frame_record(record, _FORMAT)

    assert framed.count("\x1e") == 1 and "\x1d" not in framed


def _plugin(config: pytest.Config) -> LogScan:
    plugin = config.pluginmanager.get_plugin("eseal-logscan")
    if not isinstance(plugin, LogScan):
        pytest.skip("the log scan is switched off (-p no:tests.logscan)")
    return plugin


def test_the_run_captures_every_logger_and_caplog_still_works(
    pytestconfig: pytest.Config, caplog: pytest.LogCaptureFixture
) -> None:
    marker = uuid.uuid4().hex
    quiet = logging.getLogger("logscan.selftest.quiet")
    quiet.propagate = False
    try:
        logging.getLogger("wallet.selftest").debug("debug %s", marker)
        quiet.warning("not propagated %s", marker)
        try:
            raise RuntimeError(f"boom {marker}")
        except RuntimeError:
            logging.getLogger("verifier.selftest").exception("failed %s", marker)
    finally:
        quiet.propagate = True

    log = _plugin(pytestconfig).path.read_text("utf-8")
    assert "DEBUG wallet.selftest test_logscan.py:" in log
    assert f"| debug {marker}" in log
    assert f"| not propagated {marker}" in log
    assert f"RuntimeError: boom {marker}" in log  # the exception text
    assert [r.getMessage() for r in caplog.records] == [
        f"debug {marker}",
        f"failed {marker}",
    ]


def test_a_test_clients_own_request_lines_are_left_out(
    pytestconfig: pytest.Config,
) -> None:
    plugin = _plugin(pytestconfig)
    marker = uuid.uuid4().hex
    left_out = plugin.client_records
    httpx_log = logging.getLogger("httpx")
    request = 'HTTP Request: %s %s "%s %d %s"'
    for url in (f"http://testserver.local/{marker}/a", f"http://127.0.0.1/{marker}/b"):
        httpx_log.info(request, "GET", httpx.URL(url), "HTTP/1.1", 200, "OK")

    log = plugin.path.read_text("utf-8")
    assert f"/{marker}/a" not in log and f"/{marker}/b" in log
    assert plugin.client_records == left_out + 1


_LEAKING_TEST = """
import logging

from eseal.settings import DEV_PASSPHRASE


def test_unlock():
    logging.getLogger("keys.store").debug("unlocking with %s", DEV_PASSPHRASE)
"""


def test_a_leak_fails_the_run_and_so_does_a_capture_that_saw_too_little(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run of its own (a leak in this one would fail the suite), as
    # `make test` runs: every test path given by the configuration.
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    monkeypatch.delenv("ESEAL_TEST_LOG", raising=False)  # this run's own log
    pytester.makeini("[pytest]\ntestpaths = leaks\n")
    pytester.mkpydir("leaks").joinpath("test_leak.py").write_text(_LEAKING_TEST)

    result = pytester.runpytest_subprocess("-p", "tests.logscan")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    kept = re.search(r"the log is kept at (\S+)", output)
    assert kept, output
    shutil.rmtree(Path(kept.group(1)).parent)
    assert DEV_PASSPHRASE not in output
    result.stdout.fnmatch_lines(
        [
            "only 1 records of eSeal's loggers were captured in a full run"
            f" (at least {MIN_RECORDS} expected)*",
            "*1 x development passphrase (22 characters, starting 'esea') logged"
            " by keys.store at test_leak.py:8 during leaks/test_leak.py::test_unlock",
        ]
    )


def test_a_leak_in_an_xdist_worker_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make test` runs in workers: each scans its own log, and the
    controller, which logs nothing itself, fails the run on what they found."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    monkeypatch.delenv("ESEAL_TEST_LOG", raising=False)
    monkeypatch.delenv("ESEAL_LOGSCAN_SHARE", raising=False)
    pytester.makeini("[pytest]\ntestpaths = leaks\n")
    pytester.mkpydir("leaks").joinpath("test_leak.py").write_text(_LEAKING_TEST)

    result = pytester.runpytest_subprocess("-p", "tests.logscan", "-n", "2")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert DEV_PASSPHRASE not in output
    result.stdout.fnmatch_lines(["*1 x development passphrase*during leaks/*"])
    for kept in re.findall(r"the log is kept at (\S+)", output):
        shutil.rmtree(Path(kept).parent, ignore_errors=True)
