"""Every log record of the test run, kept in one file and searched for secrets.

DESIGN.md: "Logs carry no keys, tokens, passwords, ID numbers or claim sets."
The suite proves it as a whole.  From the start of the session every record
that any logger makes (eSeal's, Litestar's, uvicorn's, the libraries') is
written to a file, its message and its exception text; when the session
ends the file is searched for

- PEM private key blocks and private JWKs,
- API keys (``esk_``/``evk_`` and 43 base64url characters) and wallet session
  tokens (``ses.`` and 43),
- citizen ID numbers (18 characters that pass GB 11643's checks), mainland
  mobile numbers, proof check codes, QR credential text, SD-JWT disclosures,
- and the values in ``BOOK``: every ``secrets.token_urlsafe`` value made in
  the run (API keys, session and account tokens, offer codes, offer access
  tokens and nonces, sign-in form cookies), the passphrases, PINs and
  passwords the tests set (``keep_out_of_logs``), the service secrets and
  key files the tests wrote, and the names, ID numbers, addresses, plates
  and VINs of examples/.

A find fails the run (exit status 1) and is reported by kind, logger, source
line and test, never with the value; the log is kept for reading
(``ESEAL_TEST_LOG=path`` keeps it in any case).  A full run (``make test``)
must also have captured at least ``MIN_RECORDS`` records of eSeal's own
loggers, so that a capture that stopped working (or loggers that someone's
``dictConfig`` disabled) cannot pass as clean.

What is captured, and why:

- eSeal's packages log at DEBUG, everything else at INFO.  eSeal's DEBUG lines
  are the ones that could carry a value by mistake; INFO is the level Litestar
  gives the root logger in any case (and Litestar and uvicorn write next to
  nothing at DEBUG); the DEBUG lines of asyncpg, httpcore, pyhanko or
  fontTools are many and not eSeal's to change.  A test may still lower a
  level with ``caplog.set_level``; those records are captured too.
- Records are taken where they are made (the log record factory), not by a
  handler: Litestar replaces the root logger's handlers each time an app is
  built, and the ``litestar`` and uvicorn loggers do not propagate.  pytest's
  own handlers, and so ``caplog``, are left as they are.
- Each record is one ``os.write`` to a file opened for appending: no buffer
  to flush, and a record made in a forked signing worker lands whole.
- The servers the tests start run inside this process (uvicorn in a thread),
  so what they log is among these records; no test starts an eSeal process.
- Left out: httpx's line for each request of Litestar's ``TestClient``, the
  tests' stand-in for a resident's browser or a third party.  It names the
  URL the caller opened (an access link's ``?token=`` among them): the
  caller's log, not eSeal's.  They are counted in the report.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import dataclasses
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from eseal.settings import DEV_PASSPHRASE
from schemas.checks import citizen_id_problem

__all__ = [
    "BOOK",
    "MIN_RECORDS",
    "Finding",
    "SecretBook",
    "keep_out_of_logs",
    "scan",
]

#: Records of eSeal's loggers a full run must capture.  The suite made about
#: 4,450 of them (6,500 records in all, counted in parts) when this was written.
MIN_RECORDS = 3000

#: The loggers kept at DEBUG: eSeal's packages.
ESEAL_LOGGERS = (
    "credential",
    "eseal",
    "issuer",
    "keys",
    "schemas",
    "verifier",
    "wallet",
    "web",
)

_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_PLUGIN = "eseal-logscan"

# The file's framing: a record starts with RS, a test's records follow a GS
# line naming it.  Neither can appear inside a record (they are escaped).
_RECORD, _TEST = "\x1e", "\x1d"
_ESCAPES = str.maketrans({_RECORD: "\\x1e", _TEST: "\\x1d"})
_LOGGER = re.compile(_RECORD + r"\S+ (\S+) ")


# -- what must not be logged ------------------------------------------------------

#: The characters of base64, base64url and hex values, and of ``name=value``.
_WORD = re.compile(r"[A-Za-z0-9+/=_-]+")
_RUN = re.compile(r"[A-Za-z0-9+/=_-]{16,}")
#: Shorter values match too much by chance (a 4-digit PIN is in any number).
_MIN_WORD, _MIN_ASCII = 16, 6

# Example claims that name or point to a person.  Dog names, dates, sexes and
# authorities are not kept out: they are too short or not personal.
_PERSONAL_CLAIMS = {
    "name": "name",
    "owner": "name",
    "owner_name": "name",
    "lawyer_name": "name",
    "queried_name": "name",
    "household_head": "name",
    "id_number": "ID number",
    "queried_id_number": "ID number",
    "address": "address",
    "registered_address": "address",
    "plate_number": "plate number",
    "vin": "VIN",
}

_Value = TypeVar("_Value", str, bytes)


class SecretBook:
    """Values that must never reach a log, each with its kind."""

    def __init__(self) -> None:
        # Values of word characters, by length: found in the log's runs of
        # word characters, so that thousands of tokens cost one pass.
        self.words: dict[int, dict[str, str]] = {}
        # Anything else (passwords with spaces, names in Chinese): few.
        self.phrases: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.phrases) + sum(len(v) for v in self.words.values())

    def add(self, value: str, kind: str) -> None:
        """Keep ``value`` out of the logs; too short a value is a ValueError,
        as it would be found by chance in any log."""
        if _WORD.fullmatch(value) and len(value) >= _MIN_WORD:
            self.words.setdefault(len(value), {})[value] = kind
        elif len(value) >= (_MIN_ASCII if value.isascii() else 2):
            self.phrases[value] = kind
        else:
            raise ValueError(f"a {kind} of {len(value)} characters is too short")

    def add_examples(self, folder: Path = _EXAMPLES) -> None:
        """The names, ID numbers and addresses of the sample claims."""
        for path in sorted(folder.glob("*.json")):
            claims = json.loads(path.read_text("utf-8"))
            for claim, kind in _PERSONAL_CLAIMS.items():
                if isinstance(claims.get(claim), str):
                    self.add(claims[claim], f"{kind} in examples/{path.name}")

    def add_files(self, folder: Path) -> None:
        """The service secrets and key files the tests wrote under ``folder``:
        each ``*.secret`` (64 hex digits) and each line of each ``*.key.pem``
        between its armour."""
        for path in folder.rglob("*.secret"):
            self.add(path.read_text("ascii").strip(), "service secret")
        for path in folder.rglob("*.key.pem"):
            for line in path.read_text("ascii").splitlines():
                if len(line) >= _MIN_WORD and not line.startswith("-----"):
                    self.add(line, "line of a key file")


#: This run's book.  Test modules add what they make up with
#: ``keep_out_of_logs``; the plugin adds the rest.
BOOK = SecretBook()


def keep_out_of_logs(value: _Value, kind: str) -> _Value:
    """Note a password, passphrase, PIN or phone number a test uses, so that
    the run fails if it is ever logged; returns ``value``."""
    BOOK.add(value.decode() if isinstance(value, bytes) else value, kind)
    return value


def _valid_citizen_id(text: str) -> bool:
    # Region, birth date and MOD 11-2 check character (GB 11643): a random
    # 18-digit number (a timestamp, a counter) passes a few times in 100,000,
    # and the pattern's boundaries rule out parts of longer numbers and of
    # hex or base64 strings.  An ID number typed wrong is let go: without the
    # checks any 18 digits would count, and eSeal logs no claim in any case.
    return citizen_id_problem(text.upper(), None) is None


def _disclosure(text: str) -> bool:
    # An SD-JWT disclosure is base64url of ["salt", "name", value] (or of
    # ["salt", value] in an array); "WyJ" is base64 for '["'.  Its claim value
    # is the leak; decoding it tells it from a token that happens to start so.
    try:
        decoded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        return False
    return (
        isinstance(decoded, list)
        and len(decoded) in (2, 3)
        and isinstance(decoded[0], str)
    )


def _mixed(text: str) -> bool:
    # Ten characters of Crockford's base 32 (no I, L, O, U) in two groups of
    # five: a real code has letters and digits both 98 times in 100, words
    # and numbers in that shape (model numbers, "ABCDE-FGHJK") rarely do.
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def _anything(_text: str) -> bool:
    return True


#: (kind, pattern, check of a match).  Each is written so that a find is a
#: leak and not a look-alike: whole values, bounded by characters that could
#: not continue them, and checked past the pattern where that is possible.
PATTERNS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool]], ...] = (
    # The five dashes of PEM armour, with any key kind (EC, RSA, ENCRYPTED):
    # a test or message that merely says "private key" has none.
    (
        "PEM private key",
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
        _anything,
    ),
    # A JWK's private member "d" (EC, OKP and RSA alike), as JSON or as a
    # Python dict's repr; public JWKs have no "d".
    (
        "private JWK",
        re.compile(r"""["']d["']\s*:\s*["'][A-Za-z0-9_-]{32,}"""),
        _anything,
    ),
    # web/access.py: the service's prefix and token_urlsafe(32).  A key cut
    # short for display ("esk_abcd…") is not a key.
    (
        "API key",
        re.compile(r"(?<![A-Za-z0-9_-])e[sv]k_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
        _anything,
    ),
    # wallet/accounts.py: SESSION_PREFIX and token_urlsafe(32), the value of
    # the session cookie and of a bearer header alike.
    (
        "wallet session token",
        re.compile(r"(?<![A-Za-z0-9_.-])ses\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
        _anything,
    ),
    (
        "citizen ID number",
        re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])"),
        _valid_citizen_id,
    ),
    # The wallet's sign-in name.  Eleven digits from 13 to 19, alone: not the
    # middle of a longer number, a serial (SFZ2026...), a decimal or another
    # country's number.
    (
        "mobile number",
        re.compile(r"(?<![0-9A-Za-z.+])(?:\+86|0086)?1[3-9][0-9]{9}(?![0-9A-Za-z])"),
        _anything,
    ),
    # credential/checkcode.py: with the serial it opens the proof to anyone.
    (
        "proof check code",
        re.compile(
            r"(?<![0-9A-Za-z-])[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}"
            r"(?![0-9A-Za-z-])"
        ),
        _mixed,
    ),
    # The compact form's Base45 carries the claims; 40 characters are more
    # than any message that merely names the prefix.
    ("QR credential text", re.compile(r"ES1:[0-9A-Z $%*+./:-]{40,}"), _anything),
    (
        "SD-JWT disclosure",
        re.compile(r"(?<![A-Za-z0-9_-])WyJ[A-Za-z0-9_-]{17,}"),
        _disclosure,
    ),
)


# -- the search -------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A value found in the log: what it was, and where (never the value)."""

    kind: str
    logger: str
    source: str
    test: str
    hint: str

    def __str__(self) -> str:
        return (
            f"{self.kind} ({self.hint}) logged by {self.logger} at {self.source}"
            f" during {self.test}"
        )


def _hint(value: str) -> str:
    # Enough to tell two finds apart, too little to use: a long token's first
    # four characters (its prefix at most), else only the length.
    if len(value) >= _MIN_WORD:
        return f"{len(value)} characters, starting {value[:4]!r}"
    return f"{len(value)} characters"


def _matches(text: str, book: SecretBook) -> Iterator[tuple[int, str, str]]:
    """(offset, kind, value) of everything in ``text`` that must not be there."""
    for kind, pattern, valid in PATTERNS:
        for match in pattern.finditer(text):
            if valid(match.group()):
                yield match.start(), kind, match.group()
    for phrase, kind in book.phrases.items():
        start = text.find(phrase)
        while start != -1:
            yield start, kind, phrase
            start = text.find(phrase, start + 1)
    lengths = sorted(book.words)
    for match in _RUN.finditer(text):
        run = match.group()
        for length in lengths:
            if length > len(run):
                break
            values = book.words[length]
            for i in range(len(run) - length + 1):
                if (word := run[i : i + length]) in values:
                    yield match.start() + i, values[word], word


def scan(text: str, book: SecretBook) -> list[Finding]:
    """Every secret in ``text``, a log in this module's framing (a GS line
    naming a test, then that test's records, each after RS), with the record
    and test it was found in.  The test names themselves are not searched."""
    findings: list[Finding] = []
    for part in text.split(_TEST):
        test, _, records = part.partition("\n")
        found = sorted(_matches(records, book))
        if not found:
            continue
        starts = [m.start() for m in re.finditer(_RECORD, records)]
        for offset, kind, value in found:
            start = starts[bisect.bisect_right(starts, offset) - 1] if starts else -1
            header = records[start + 1 : offset].split(" ", 3)
            logger, source = (header + ["?", "?", "?"])[1:3]
            findings.append(Finding(kind, logger, source, test, _hint(value)))
    return findings


def frame_record(record: logging.LogRecord, formatter: logging.Formatter) -> str:
    """One record as it is written to the log: ``RS level logger file:line |``
    then the message and any exception text and stack."""
    try:
        text = formatter.format(record)
    except Exception:  # noqa: BLE001 - a bad format string still gets scanned
        text = f"(unformattable) {record.msg!r} % {record.args!r}"
    return _RECORD + text.translate(_ESCAPES) + "\n"


def _from_a_test_client(record: logging.LogRecord) -> bool:
    """Whether ``record`` is httpx's line about a request of Litestar's
    ``TestClient`` (host ``testserver.local``).  eSeal's own requests (the
    wallet calling the issuer, ``eseal trust sync``) go to other hosts and
    stay in."""
    args = record.args
    return (
        record.name == "httpx"
        and isinstance(args, tuple)
        and len(args) > 1
        and getattr(args[1], "host", None) == "testserver.local"
    )


# -- the plugin -------------------------------------------------------------------


class LogScan:
    """Captures the session's log records and scans them when it ends."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # ESEAL_TEST_LOG names a file to keep the log in; else it goes to a
        # folder of its own, removed when nothing was found.
        self.folder: Path | None = None
        if kept := os.environ.get("ESEAL_TEST_LOG"):
            self.path = Path(kept)
        else:
            self.folder = Path(tempfile.mkdtemp(prefix="eseal-logs-"))
            self.path = self.folder / "run.log"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
        self._fd = os.open(self.path, flags, 0o600)
        self._formatter = logging.Formatter(
            "%(levelname)s %(name)s %(filename)s:%(lineno)d | %(message)s"
        )
        self._factory = logging.getLogRecordFactory()
        self._levels: dict[str, int] = {}
        self._mint = secrets.token_urlsafe
        self.basetemp: Path | None = None
        self.records = self.eseal_records = self.client_records = 0
        self.loggers: Counter[str] = Counter()
        self.findings: list[Finding] = []
        self.too_few = ""
        self.worker_secrets = self.own_findings = 0
        self.kept_logs: list[str] = []
        # Under xdist: a worker scans its own log against its own secrets
        # and leaves a summary; the controller adds the summaries up.
        self.worker = hasattr(config, "workerinput")
        self.controller = not self.worker and bool(
            getattr(config.option, "numprocesses", None)
        )

    # -- capturing

    def start(self) -> None:
        BOOK.add(DEV_PASSPHRASE, "development passphrase")
        BOOK.add_examples()
        for name in ("", *ESEAL_LOGGERS):
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.DEBUG if name else logging.INFO)
        logging.setLogRecordFactory(self._make_record)
        secrets.token_urlsafe = self._token_urlsafe
        self._write(_TEST + "(before the tests)\n")

    def stop(self) -> None:
        if secrets.token_urlsafe == self._token_urlsafe:
            secrets.token_urlsafe = self._mint
        if logging.getLogRecordFactory() == self._make_record:
            logging.setLogRecordFactory(self._factory)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        if self._fd != -1:
            os.close(self._fd)
            self._fd = -1

    def _make_record(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._factory(*args, **kwargs)
        if record.name is None:  # makeLogRecord's blank, filled in later
            return record
        if _from_a_test_client(record):
            self.client_records += 1
        else:
            self._write(frame_record(record, self._formatter))
        return record

    def _token_urlsafe(self, nbytes: int | None = None) -> str:
        token = self._mint(nbytes)
        if len(token) >= _MIN_WORD:
            BOOK.add(token, "token made by secrets.token_urlsafe")
        return token

    def _write(self, text: str) -> None:
        data = text.encode("utf-8", "backslashreplace")
        while data and self._fd != -1:
            data = data[os.write(self._fd, data) :]

    # -- pytest's hooks

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._write(f"{_TEST}{nodeid}\n")

    def pytest_runtest_logfinish(self) -> None:
        self._write(_TEST + "(between tests)\n")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.stop()
        if self.basetemp is not None:
            BOOK.add_files(self.basetemp)
        text = self.path.read_text("utf-8")
        self.loggers.update(m[1] for m in _LOGGER.finditer(text))
        self.findings = scan(text, BOOK)
        self.own_findings = len(self.findings)
        if self.worker:
            _share_path(self.config).write_text(self._summary(), "utf-8")
        elif self.controller:
            self._gather_workers()
        self.records = self.loggers.total()
        self.eseal_records = sum(
            n for name, n in self.loggers.items() if name.split(".")[0] in ESEAL_LOGGERS
        )
        if (
            not self.worker
            and self._is_full_run(session)
            and self.eseal_records < MIN_RECORDS
        ):
            self.too_few = (
                f"only {self.eseal_records} records of eSeal's loggers were captured"
                f" in a full run (at least {MIN_RECORDS} expected): is the capture"
                " working?"
            )
        if (self.findings or self.too_few) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _summary(self) -> str:
        return json.dumps(
            {
                "loggers": dict(self.loggers),
                "client_records": self.client_records,
                "secrets": len(BOOK),
                "findings": [dataclasses.astuple(f) for f in self.findings],
                "log": str(self.path),
            }
        )

    def _gather_workers(self) -> None:
        """Under xdist, what each worker's scan found (see _share_path)."""
        for summary in sorted(Path(os.environ[_SHARE]).glob("*.json")):
            found = json.loads(summary.read_text("utf-8"))
            self.loggers.update(found["loggers"])
            self.client_records += found["client_records"]
            self.findings += [Finding(*f) for f in found["findings"]]
            self.worker_secrets += found["secrets"]
            if found["findings"]:
                self.kept_logs.append(found["log"])

    def _is_full_run(self, session: pytest.Session) -> bool:
        # The suite as `make test` runs it: every test path, nothing left out.
        option = self.config.option
        return (
            self.config.args_source is pytest.Config.ArgsSource.TESTPATHS
            and not option.keyword
            and not option.markexpr
            and not session.shouldstop
            and not session.shouldfail
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        summary = (
            f"logs: {self.records} records scanned ({self.eseal_records} from eSeal's"
            " loggers,"
            f" {len(self.loggers)} loggers; {self.client_records} test client"
            f" request lines left out), {len(BOOK) + self.worker_secrets} secrets"
            " known"
        )
        if not (self.findings or self.too_few):
            terminalreporter.write_line(summary + ", none found")
            return
        terminalreporter.write_sep("=", "secrets in the logs", red=True)
        terminalreporter.write_line(summary)
        if self.too_few:
            terminalreporter.write_line(self.too_few, red=True)
        grouped = Counter(
            (f.kind, f.logger, f.source, f.test, f.hint) for f in self.findings
        )
        for (kind, logger, source, test, hint), count in grouped.most_common(30):
            finding = Finding(kind, logger, source, test, hint)
            terminalreporter.write_line(f"{count} x {finding}", red=True)
        if len(grouped) > 30:
            terminalreporter.write_line(f"... and {len(grouped) - 30} more")
        for kept in self.kept_logs or [str(self.path)]:
            terminalreporter.write_line(f"the log is kept at {kept}")

    def pytest_unconfigure(self) -> None:
        self.stop()
        # This process's log is kept when it holds a find (a worker's finds
        # are in that worker's log), or when the capture saw too little.
        keep = self.own_findings or (self.too_few and not self.controller)
        if self.folder is not None and not keep:
            shutil.rmtree(self.folder, ignore_errors=True)
        if self.controller:
            shutil.rmtree(os.environ[_SHARE], ignore_errors=True)


@pytest.fixture(name="_logscan_basetemp", scope="session", autouse=True)
def _logscan_basetemp_fixture(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Where the tests write their files (service secrets, key files)."""
    plugin = pytestconfig.pluginmanager.get_plugin(_PLUGIN)
    if isinstance(plugin, LogScan):
        plugin.basetemp = tmp_path_factory.getbasetemp()


#: The folder where each xdist worker leaves the summary of its scan, set by
#: the controller before it starts them (they inherit its environment).
_SHARE = "ESEAL_LOGSCAN_SHARE"


def _share_path(config: pytest.Config) -> Path:
    worker = config.workerinput["workerid"]  # type: ignore[attr-defined]
    return Path(os.environ[_SHARE]) / f"{worker}.json"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and getattr(
        config.option, "numprocesses", None
    ):
        os.environ[_SHARE] = tempfile.mkdtemp(prefix="eseal-logscan-")
    plugin = LogScan(config)
    config.pluginmanager.register(plugin, _PLUGIN)
    plugin.start()
