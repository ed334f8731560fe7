"""Every key and item type of the single table, and nothing else knows them.

- account:     pk ``ACCOUNT#<id>``, sk ``ACCOUNT``: keyHash, requestsRemaining, createdAt,
               charges (recent charge tokens), leases (quota leases), adminToken? (see dal.accounts)
- master key:  pk ``KEY#<sha256>``, sk ``KEY``: accountId, createdAt (the key itself is never stored)
- bin base:    pk ``BIN#<binId>``, sk ``BIN``: owner, private, name?, record, createdAt,
               generation, versionCount, rev, purgeBelow? (set only by a cut-over),
               w (the stamps of the last 16 writes, see dal.bins.Stamp), collectionId? (filed bins)
- bin version: pk ``BIN#<binId>``, sk ``V#<generation>#<version>``: record, createdAt, generation, version
- listing:     pk ``LIST#<accountId>#<collectionId|uncategorized>``, sk ``<createdAt>#<binId>``:
               binId, private, name?, createdAt. One per bin, written, rewritten and deleted in
               the same transaction as the bin's base item (dal.listing): a page of a
               collection's bins is one Query of its partition, in creation order
- collection:  pk ``ACCOUNT#<accountId>``, sk ``COLL#<collectionId>``: name, createdAt,
               schemaDocId?, rev, w (stamps, as a bin's). In the account's partition, so
               another account's id is simply not found, and ``GET /c`` is one Query
- collections: pk ``ACCOUNT#<accountId>``, sk ``COLLECTIONS``: count, the per-account limit's
               counter, raised in the same transaction that puts a collection (dal.collections)
- schema doc:  pk ``ACCOUNT#<accountId>``, sk ``SCHEMA#<schemaDocId>``: name, createdAt,
               schema (its JSON text), rev, w (stamps)

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
LIST_PREFIX = "LIST#"
UNCATEGORIZED = "uncategorized"
COLLECTION_PREFIX = "COLL#"
COLLECTIONS_SK = "COLLECTIONS"
SCHEMA_DOC_PREFIX = "SCHEMA#"

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


def listing_pk(account_id: str, collection_id: str | None) -> str:
    return f"{LIST_PREFIX}{account_id}#{collection_id or UNCATEGORIZED}"


def listing_sk(created_at: str, bin_id: str) -> str:
    """Creation time first (ISO 8601 UTC sorts as time), ties broken by the bin id."""
    return f"{created_at}#{bin_id}"


def listing_key(account_id: str, collection_id: str | None, created_at: str, bin_id: str) -> Key:
    return _key(listing_pk(account_id, collection_id), listing_sk(created_at, bin_id))


def collection_key(account_id: str, collection_id: str) -> Key:
    return _key(ACCOUNT_PREFIX + account_id, COLLECTION_PREFIX + collection_id)


def collections_counter_key(account_id: str) -> Key:
    return _key(ACCOUNT_PREFIX + account_id, COLLECTIONS_SK)


def schema_doc_key(account_id: str, schema_doc_id: str) -> Key:
    return _key(ACCOUNT_PREFIX + account_id, SCHEMA_DOC_PREFIX + schema_doc_id)
