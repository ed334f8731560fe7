"""Every key and item type of the single table, and nothing else knows them.

- account:     pk ``ACCOUNT#<id>``, sk ``ACCOUNT``: keyHash, requestsRemaining, createdAt,
               charges (recent charge tokens), leases (quota leases), adminToken? (see dal.accounts)
- master key:  pk ``KEY#<sha256>``, sk ``KEY``: accountId, createdAt (the key itself is never stored)
- bin base:    pk ``BIN#<binId>``, sk ``BIN``: owner, private, name?, record, createdAt,
               generation, versionCount, rev, purgeBelow? (set only by a cut-over),
               w (the stamps of the last 16 writes, see dal.bins.Stamp)
- bin version: pk ``BIN#<binId>``, sk ``V#<generation>#<version>``: record, createdAt, generation, version

Generations and versions are zero-padded so that sort-key order is numeric order: every
version of generations below ``g`` sorts below ``generation_floor(g)``, which is how the
purge finds what a cut-over orphaned with one key-range query.
"""

from __future__ import annotations

ACCOUNT_PREFIX = "ACCOUNT#"
KEY_PREFIX = "KEY#"
BIN_PREFIX = "BIN#"
ACCOUNT_SK = "ACCOUNT"
KEY_SK = "KEY"
BIN_SK = "BIN"
VERSION_PREFIX = "V#"

Key = dict[str, dict[str, str]]


def _key(pk: str, sk: str) -> Key:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def account_key(account_id: str) -> Key:
    return _key(ACCOUNT_PREFIX + account_id, ACCOUNT_SK)


def master_key_key(key_hash: str) -> Key:
    return _key(KEY_PREFIX + key_hash, KEY_SK)


def bin_pk(bin_id: str) -> str:
    return BIN_PREFIX + bin_id


def bin_key(bin_id: str) -> Key:
    return _key(bin_pk(bin_id), BIN_SK)


def version_sk(generation: int, version: int) -> str:
    return f"{VERSION_PREFIX}{generation:010d}#{version:06d}"


def version_key(bin_id: str, generation: int, version: int) -> Key:
    return _key(bin_pk(bin_id), version_sk(generation, version))


def generation_floor(generation: int) -> str:
    """Sorts above every version of older generations and below every version of ``generation``."""
    return f"{VERSION_PREFIX}{generation:010d}"


def bin_id_from_pk(pk: str) -> str:
    return pk.removeprefix(BIN_PREFIX)
