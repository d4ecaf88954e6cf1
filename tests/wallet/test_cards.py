"""Cards and their keys: each card its own key, older cards the account's,
and a deleted card gone with its key."""

from __future__ import annotations

import pytest

from credential.errors import NotFoundError
from eseal.services import issue_into_wallet
from wallet.tables import WalletCredential

from ..eseal.http_fixtures import HOLDER, Site, assert_problem, site_fixture  # noqa: F401


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rows(site: Site, serial: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = site.run(
        lambda: WalletCredential.select().where(WalletCredential.serial == serial)
    )
    return rows


def test_a_card_issued_into_the_wallet_has_a_key_of_its_own(site: Site) -> None:
    (row,) = _rows(site, site.serial)
    assert row["sealed_holder_key"]
    wallet = site.services.wallet
    card = site.run(lambda: wallet._card_key(HOLDER, site.serial)).public_key()
    account = site.run(lambda: wallet.holder_public_key(HOLDER))
    assert card.public_numbers() != account.public_numbers()


def test_an_older_card_bound_to_the_account_key_still_verifies(site: Site) -> None:
    wallet, issuer = site.services.wallet, site.services.issuer
    now = site.clock()

    async def older() -> str:
        # As cards were stored before they had keys of their own.
        key = await wallet.holder_public_key(HOLDER)
        result = await issuer.issue(
            "resident-id", site.claims, holder_key=key, holder=HOLDER, now=now
        )
        await wallet.store(
            HOLDER,
            serial=result.serial,
            type_id=result.type_id,
            sd_jwt=result.sd_jwt,
            compact_bytes=result.compact,
            views=result.views,
            now=now,
        )
        return result.serial

    serial = site.run(older)

    assert _rows(site, serial)[0]["sealed_holder_key"] == ""
    response = site.verify(site.presentation(serial=serial))
    assert response.status_code == 200, response.text


def test_deleting_a_card_removes_it_and_its_key(site: Site) -> None:
    other = site.run(
        lambda: issue_into_wallet(
            site.services.issuer,
            site.services.wallet,
            "resident-id",
            site.claims,
            holder=HOLDER,
            now=site.clock(),
        )
    ).serial

    response = site.client.delete(
        f"/wallet/api/v1/cards/{site.serial}", headers=_auth(site.token)
    )

    assert response.status_code == 204, response.text
    assert _rows(site, site.serial) == []
    listed = site.client.get("/wallet/api/v1/cards", headers=_auth(site.token)).json()
    assert [c["serial"] for c in listed] == [other]
    gone = site.client.get(
        f"/wallet/api/v1/cards/{site.serial}/presentation", headers=_auth(site.token)
    )
    assert assert_problem(gone, status=404)["reason"] == "not_found"
    again = site.client.delete(
        f"/wallet/api/v1/cards/{site.serial}", headers=_auth(site.token)
    )
    assert_problem(again, status=404)
    # The other card and the account's key are untouched.
    assert site.verify(site.presentation(serial=other)).status_code == 200


def test_another_residents_card_is_404_and_stays(site: Site) -> None:
    token, serial = site.add_resident("resident-2")

    response = site.client.delete(
        f"/wallet/api/v1/cards/{serial}", headers=_auth(site.token)
    )

    assert assert_problem(response, status=404)["reason"] == "not_found"
    assert len(_rows(site, serial)) == 1
    assert site.verify(site.presentation(token=token, serial=serial)).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_deleting_needs_the_wallets_token(site: Site, headers: dict[str, str]) -> None:
    response = site.client.delete(
        f"/wallet/api/v1/cards/{site.serial}", headers=headers
    )
    assert assert_problem(response, status=401)["reason"] == "unauthorized"
    assert len(_rows(site, site.serial)) == 1


def test_the_service_deletes_only_its_accounts_cards(site: Site) -> None:
    _, serial = site.add_resident("resident-3")
    wallet = site.services.wallet
    with pytest.raises(NotFoundError):
        site.run(lambda: wallet.delete_card(HOLDER, serial))
    site.run(lambda: wallet.delete_card("resident-3", serial))
    assert _rows(site, serial) == []
