"""Every key and item type of the single table, and nothing else knows them.

- account:     pk ``ACCOUNT#<id>``, sk ``ACCOUNT``: keyHash, createdAt, accessKeys, shards (how
               many quota shards it has). An account from before shards also has
               requestsRemaining, charges, leases, adminToken until its first charge or set-quota
- quota shard: pk ``ACCOUNT#<id>``, sk ``QUOTA#<nn>`` (nn from 00): requestsRemaining (its part
               of the quota), keyHash and accessKeys (id -> true) copied from the account item
               for the charge's key check, leases (quota leases), see dal.accounts
- master key:  pk ``KEY#<sha256>``, sk ``KEY``: accountId, createdAt (the key itself is never stored)
- bin base:    pk ``BIN#<binId>``, sk ``BIN``: owner, private, name?, createdAt, generation,
               versionCount, rev, purgeBelow? (set only by a cut-over), w (the stamps of the
               last 16 writes, see dal.bins.Stamp), and the base record as EITHER
               record (inline, when its stored form is at most ``BASE_INLINE_BYTES``) OR
               recordAt (the sk of the item holding it: a record item, or after a
               preserve-latest delete the old generation's latest version item), and
               drop? (the sk of a record holder and/or S3 key its write made unreachable, for the purge),
               collectionId? (filed bins)
- bin version: pk ``BIN#<binId>``, sk ``V#<generation>#<version>``: createdAt, generation, version,
               and the record as EITHER record (inline) OR blob (an S3 key)
- bin record:  pk ``BIN#<binId>``, sk ``R#<recordId>``: a base record too big for the base item,
               record (inline) OR blob (an S3 key); written once, never changed
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
- schema docs: pk ``ACCOUNT#<accountId>``, sk ``SCHEMADOCS``: count, the per-account limit's
               counter (``MAX_SCHEMA_DOCS``), raised in the same transaction that puts a schema doc
- S3 object:   ``b/<binId>/<recordId>`` in the records bucket (dal/blobs.py): a zlib-compressed
               record whose stored form exceeds ``INLINE_MAX_BYTES``. ``recordId`` is new for
               every write, so a retried or racing write never overwrites an object anything
               points to, and the sweep finds an object's bin (and the items that may point
               to it) from its key alone.

Records out of the base item: the base item stays small (metadata and pointers), so a
versioned PUT pays for the version's record once, not for the base record too, and a read
of a version reads a small base item. A record item or version item holds its record
inline up to ``INLINE_MAX_BYTES`` stored (far below the 400 KB item limit, leaving room for
the transaction's other items), an S3 object beyond.

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
QUOTA_SHARD_PREFIX = "QUOTA#"
BIN_SK = "BIN"
VERSION_PREFIX = "V#"
LIST_PREFIX = "LIST#"
UNCATEGORIZED = "uncategorized"
COLLECTION_PREFIX = "COLL#"
COLLECTIONS_SK = "COLLECTIONS"
SCHEMA_DOC_PREFIX = "SCHEMA#"
SCHEMA_DOCS_SK = "SCHEMADOCS"
RECORD_PREFIX = "R#"
BLOB_PREFIX = "b/"

# A base record whose stored form is at most this stays in the base item: a small bin (the
# common case) is still one item and one read, and its base item stays below 2 KB.
BASE_INLINE_BYTES = 1024
# A record whose stored form is larger goes to S3: 64 KB keeps every item far below the
# 400 KB limit and every transaction far below 4 MB. Beyond it S3 is cheaper too: one PUT
# ($5 per million) costs what 4 write units do, a transactional write of 64 KB costs 128.
INLINE_MAX_BYTES = 64 * 1024

Key = dict[str, dict[str, str]]


def _key(pk: str, sk: str) -> Key:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def account_key(account_id: str) -> Key:
    return _key(ACCOUNT_PREFIX + account_id, ACCOUNT_SK)


def quota_shard_key(account_id: str, index: int) -> Key:
    return _key(ACCOUNT_PREFIX + account_id, f"{QUOTA_SHARD_PREFIX}{index:02d}")


def quota_shard_index(sort_key: str) -> int:
    return int(sort_key.removeprefix(QUOTA_SHARD_PREFIX))


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


def schema_docs_counter_key(account_id: str) -> Key:
    return _key(ACCOUNT_PREFIX + account_id, SCHEMA_DOCS_SK)


def record_sk(record_id: str) -> str:
    return RECORD_PREFIX + record_id


def holder_key(bin_id: str, sk: str) -> Key:
    """The key of the item holding a record (a record item or a version item)."""
    return _key(bin_pk(bin_id), sk)


def blob_prefix(bin_id: str) -> str:
    return f"{BLOB_PREFIX}{bin_id}/"


def blob_key(bin_id: str, record_id: str) -> str:
    return blob_prefix(bin_id) + record_id


def bin_id_from_blob_key(key: str) -> str | None:
    """The bin an S3 object belongs to, or None for a key binvault did not write."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] + "/" != BLOB_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def generation_of(sk: str) -> int | None:
    """The generation a version item's sk names, or None for any other sk."""
    if not sk.startswith(VERSION_PREFIX):
        return None
    return int(sk[len(VERSION_PREFIX) :].split("#", 1)[0])
