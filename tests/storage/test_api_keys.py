"""API keys: recognisable, checksummed, stored only as a keyed hash."""

from __future__ import annotations

from sqlalchemy import text

from storage import api_keys
from storage.db import transaction


def test_generated_keys_carry_the_prefix_and_a_valid_checksum():
    key = api_keys.generate_key()
    assert key.startswith("cut_")
    assert len(key) == api_keys.KEY_LENGTH
    assert api_keys.is_well_formed(key)


def test_a_single_typo_fails_the_checksum():
    key = api_keys.generate_key()
    position = len(api_keys.PREFIX) + 5
    replacement = "A" if key[position] != "A" else "B"
    typo = key[:position] + replacement + key[position + 1 :]
    assert not api_keys.is_well_formed(typo)
    assert not api_keys.is_well_formed(key[:-1])
    assert not api_keys.is_well_formed("sk_" + key[3:])


def test_the_database_holds_no_plaintext_key(sessions, make_tenant):
    tenant = make_tenant()
    with sessions() as session:
        dump = session.execute(
            text("SELECT * FROM api_keys WHERE tenant_id = :t"), {"t": tenant.id}
        )
        row_text = " ".join(str(value) for value in dump.one())
    assert tenant.api_key not in row_text
    assert tenant.api_key[len(api_keys.PREFIX) + 6 :] not in row_text


def test_a_revoked_key_no_longer_finds_its_caller(sessions, make_tenant, settings):
    tenant = make_tenant()
    secret = settings.api_key_secret.get_secret_value()
    with sessions() as session:
        caller = api_keys.find_caller(session, tenant.api_key, secret)
    assert caller is not None
    assert caller.tenant_id == tenant.id
    with transaction(sessions) as session:
        assert api_keys.revoke_key(session, caller.api_key_id)
    with sessions() as session:
        assert api_keys.find_caller(session, tenant.api_key, secret) is None


def test_a_key_hashed_with_another_secret_is_unknown(sessions, make_tenant):
    tenant = make_tenant()
    with sessions() as session:
        assert api_keys.find_caller(session, tenant.api_key, "another-secret") is None
