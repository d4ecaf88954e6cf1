"""Phone accounts, passwords, sessions and throttling, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from credential.errors import AuthError, ClaimsError, ConflictError, LimitError
from eseal.services import Services
from wallet.accounts import (
    CLIENT_LIMIT,
    PHONE_LIMIT,
    SESSION_IDLE,
    SESSION_LIFETIME,
    SIGNUP_LIMIT,
    Accounts,
    check_password,
    normalise_phone,
)
from wallet.tables import WalletAttempt, WalletLogin, WalletSession

from ..conftest import NOW
from ..logscan import keep_out_of_logs

T = TypeVar("T")

PHONE = "13800138000"
PASSWORD = keep_out_of_logs("correct horse 1", "password")
keep_out_of_logs("wrong password", "password")
CLIENT = "192.0.2.7"


def run(call: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await call

    return asyncio.run(wrapper())


@pytest.fixture
def accounts(services: Services) -> Accounts:
    return Accounts(services.wallet)


def sign_up(accounts: Accounts, phone: str = PHONE, now: dt.datetime = NOW) -> str:
    return run(accounts.sign_up(phone, PASSWORD, client=CLIENT, now=now))


def sign_in(
    accounts: Accounts,
    password: str = PASSWORD,
    *,
    phone: str = PHONE,
    client: str = CLIENT,
    now: dt.datetime = NOW,
) -> Any:
    return run(accounts.sign_in(phone, password, client=client, now=now))


# -- phone numbers and passwords (no database) -----------------------------------

ACCEPTED = [
    "13800138000",
    "+86 138 0013 8000",
    "+8613800138000",
    "0086-138-0013-8000",
    "138 0013 8000",
    "１３８００１３８０００",  # full-width digits, as a Chinese keyboard types them
    " 13800138000 ",
]


@pytest.mark.parametrize("typed", ACCEPTED)
def test_phone_numbers_are_stored_as_eleven_digits(typed: str) -> None:
    assert normalise_phone(typed) == PHONE


REFUSED = [
    "",
    "1380013800",  # ten digits
    "138001380000",  # twelve
    "12800138000",  # 12 is no mobile prefix
    "23800138000",
    "+85213800138000",  # another country's code
    "1380013800O",  # a letter O
    "١٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits: digits, not ours
    "1" * 33,
    None,
    13800138000,
]


@pytest.mark.parametrize("typed", REFUSED, ids=repr)
def test_other_numbers_are_refused_with_the_phone_field(typed: object) -> None:
    with pytest.raises(ClaimsError) as caught:
        normalise_phone(typed)

    assert [e.field for e in caught.value.errors] == ["phone"]


@pytest.mark.parametrize("length", [8, 128])
def test_passwords_of_8_and_128_characters_are_accepted(length: int) -> None:
    password = ("ab3" * 50)[:length]

    assert check_password(password, PHONE) == password


BAD_PASSWORDS = {
    "seven": "abc1234",
    "129": "ab3" * 43,
    "the phone": "my13800138000",
    "one character": "aaaaaaaaa",
    "control": "abcd\x00efgh",
    "not text": None,
}


@pytest.mark.parametrize("password", BAD_PASSWORDS.values(), ids=list(BAD_PASSWORDS))
def test_bad_passwords_are_refused(password: object) -> None:
    with pytest.raises(ClaimsError) as caught:
        check_password(password, PHONE)

    assert [e.field for e in caught.value.errors] == ["password"]


# -- sign-up ---------------------------------------------------------------------


def test_sign_up_keeps_no_readable_phone_or_password(accounts: Accounts) -> None:
    name = sign_up(accounts, "+86 138-0013-8000")

    rows = run(WalletLogin.select())
    assert len(rows) == 1
    stored = repr(rows)
    assert PHONE not in stored and PASSWORD not in stored
    assert rows[0]["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert run(accounts.phone_of(name)) == PHONE


def test_a_number_has_one_account_whatever_its_spelling(accounts: Accounts) -> None:
    sign_up(accounts)

    with pytest.raises(ConflictError) as caught:
        sign_up(accounts, "+86 138 0013 8000")

    assert caught.value.reason == "already_exists"
    assert run(WalletLogin.count()) == 1


def test_sign_ups_from_one_client_are_limited(accounts: Accounts) -> None:
    for i in range(SIGNUP_LIMIT.attempts):
        sign_up(accounts, f"1390000{i:04d}")

    with pytest.raises(LimitError) as caught:
        sign_up(accounts, "13912345678")

    assert caught.value.retry_after == SIGNUP_LIMIT.window.total_seconds()


# -- sign-in ---------------------------------------------------------------------


def test_sign_in_opens_a_session_for_the_account(accounts: Accounts) -> None:
    name = sign_up(accounts)

    session = sign_in(accounts)

    assert session.account == name
    assert session.expires_at == NOW + SESSION_LIFETIME
    assert run(accounts.session(session.token, now=NOW)).account == name
    stored = run(WalletSession.select(WalletSession.token_hash))
    assert session.token not in repr(stored)


def test_unknown_number_and_wrong_password_get_the_same_answer(
    accounts: Accounts,
) -> None:
    sign_up(accounts)

    with pytest.raises(AuthError) as wrong:
        sign_in(accounts, "wrong password")
    with pytest.raises(AuthError) as unknown:
        sign_in(accounts, phone="13900139000")

    assert (wrong.value.reason, str(wrong.value)) == (
        unknown.value.reason,
        str(unknown.value),
    )


def test_failures_past_the_limit_per_number_are_refused_before_checking(
    accounts: Accounts,
) -> None:
    sign_up(accounts)
    for _ in range(PHONE_LIMIT.attempts):
        with pytest.raises(AuthError):
            sign_in(accounts, "wrong password")

    # Even the right password waits: the limit comes before the check.
    with pytest.raises(LimitError) as caught:
        sign_in(accounts)

    assert caught.value.reason == "rate_limited"
    assert caught.value.retry_after == PHONE_LIMIT.window.total_seconds()
    later = NOW + PHONE_LIMIT.window
    assert sign_in(accounts, now=later).account


def test_unknown_numbers_are_counted_too(accounts: Accounts) -> None:
    for _ in range(PHONE_LIMIT.attempts):
        with pytest.raises(AuthError):
            sign_in(accounts, phone="13900139000")

    with pytest.raises(LimitError):
        sign_in(accounts, phone="13900139000")


def test_retry_after_counts_from_the_oldest_counted_failure(
    accounts: Accounts,
) -> None:
    sign_up(accounts)
    for minute in range(PHONE_LIMIT.attempts):
        with pytest.raises(AuthError):
            sign_in(accounts, "wrong", now=NOW + dt.timedelta(minutes=minute))

    with pytest.raises(LimitError) as caught:
        sign_in(accounts, now=NOW + dt.timedelta(minutes=10))

    assert caught.value.retry_after == 5 * 60


def test_a_success_resets_the_numbers_count(accounts: Accounts) -> None:
    sign_up(accounts)
    for _ in range(PHONE_LIMIT.attempts - 1):
        with pytest.raises(AuthError):
            sign_in(accounts, "wrong password")

    sign_in(accounts)

    for _ in range(PHONE_LIMIT.attempts):
        with pytest.raises(AuthError):
            sign_in(accounts, "wrong password")
    with pytest.raises(LimitError):
        sign_in(accounts)


def test_failures_past_the_limit_per_client_are_refused(accounts: Accounts) -> None:
    sign_up(accounts)
    for i in range(CLIENT_LIMIT.attempts):
        with pytest.raises(AuthError):
            sign_in(accounts, phone=f"1390000{i:04d}")

    with pytest.raises(LimitError):
        sign_in(accounts)
    assert sign_in(accounts, client="198.51.100.1").account


def test_counts_are_kept_as_keyed_hashes_and_purged(accounts: Accounts) -> None:
    with pytest.raises(AuthError):
        sign_in(accounts)

    keys = run(WalletAttempt.select(WalletAttempt.key))
    assert PHONE not in repr(keys) and CLIENT not in repr(keys)
    later = NOW + dt.timedelta(hours=2)
    with pytest.raises(AuthError):
        sign_in(accounts, now=later)
    assert run(WalletAttempt.count()) == 2  # the two of the later failure


# -- sessions --------------------------------------------------------------------


def test_a_session_ends_after_a_week_unused(accounts: Accounts) -> None:
    sign_up(accounts)
    token = sign_in(accounts).token

    assert run(
        accounts.session(token, now=NOW + SESSION_IDLE - dt.timedelta(seconds=1))
    )
    with pytest.raises(AuthError):
        run(accounts.session(token, now=NOW + SESSION_IDLE * 2))
    # Ended for good, not only for that moment.
    with pytest.raises(AuthError):
        run(accounts.session(token, now=NOW))


def test_use_keeps_a_session_alive_until_its_end(accounts: Accounts) -> None:
    sign_up(accounts)
    token = sign_in(accounts).token
    step = SESSION_IDLE - dt.timedelta(days=1)

    now = NOW
    while now + step < NOW + SESSION_LIFETIME:
        now += step
        assert run(accounts.session(token, now=now)).account

    with pytest.raises(AuthError):
        run(accounts.session(token, now=NOW + SESSION_LIFETIME))


def test_sign_out_ends_the_session(accounts: Accounts) -> None:
    sign_up(accounts)
    token = sign_in(accounts).token

    assert run(accounts.sign_out(token)) is True

    with pytest.raises(AuthError):
        run(accounts.session(token, now=NOW))
    assert run(accounts.sign_out(token)) is False


@pytest.mark.parametrize("token", ["", "ses.", "ses.nope", "x" * 200, "plain"])
def test_tokens_that_open_no_session_are_refused(
    accounts: Accounts, token: str
) -> None:
    with pytest.raises(AuthError):
        run(accounts.session(token, now=NOW))
