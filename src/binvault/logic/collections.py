"""Collections (master key only): create, rename, list, attach and detach a schema doc, and
list the bins of a collection, or of no collection, page by page.

A page is 10 bins in creation order (``X-Sort-Order``, default descending), each shown by
its listing item (``dal.listing``): one Query per page. The cursor ``{lastBinId}`` is the
last bin of the previous page; the next page holds the bins strictly after it in the
requested order. Its base item tells where it sits (it is read while the key is checked);
a cursor that is not a bin of this listing, deleted bins included, answers
``400 Invalid Bin Id provided``.
"""

from __future__ import annotations

import re
from typing import Any

from binvault.dal import collections, listing, schema_docs
from binvault.exceptions import (
    BlankCollectionName,
    CollectionNameTooLong,
    CollectionNotFound,
    InvalidBinId,
    InvalidCollectionId,
    InvalidCollectionName,
    InvalidSchemaDocId,
    InvalidSortOrder,
    MissingCollectionName,
    MissingMasterKey,
    MissingSchemaDocId,
    ServiceUnavailable,
    StaleWrite,
)
from binvault.logic import bins
from binvault.logic.schema_docs import master
from binvault.models.bins import Collection, Credentials, Listed, Outcome
from binvault.models.clock import now_iso
from binvault.models.ids import new_id
from binvault.models.settings import get_settings

MAX_NAME_CHARS = 32
UNCATEGORIZED = "uncategorized"
_ID = re.compile(r"[0-9a-f]{24}")


# ---- input (validated before any I/O) -----------------------------------------------------


def collection_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise InvalidCollectionId()
    return value


def listed_collection(value: str) -> str | None:
    """The ``{collectionId}`` of the listing routes: a collection, or ``uncategorized`` (None)."""
    return None if value == UNCATEGORIZED else collection_id(value)


def collection_name(value: str | None) -> str:
    if value is None:
        raise MissingCollectionName()
    if not value.strip():
        raise BlankCollectionName()
    if len(value) > MAX_NAME_CHARS:
        raise CollectionNameTooLong()
    if not value.isprintable():
        raise InvalidCollectionName()
    return value


def sort_ascending(value: str | None) -> bool:
    """X-Sort-Order: ``ascending`` or ``descending`` (the default), case-insensitive."""
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered not in ("ascending", "descending"):
        raise InvalidSortOrder()
    return lowered == "ascending"


def schema_doc_header(value: str | None, required: bool) -> str | None:
    """X-Schema-Doc-Id: required to attach, optional to detach."""
    if value is None:
        if required:
            raise MissingSchemaDocId()
        return None
    if not _ID.fullmatch(value.strip()):
        raise InvalidSchemaDocId()
    return value.strip()


# ---- use cases ------------------------------------------------------------------------------


def create(credentials: Credentials, name: str) -> Outcome:
    account_id = master(credentials)
    for _ in range(5):
        collection = Collection(new_id(), account_id, name, now_iso(), None, rev=1)
        try:
            collections.create(collection, get_settings().max_collections)
        except StaleWrite:  # an id collision: 64 random bits make this all but impossible
            continue
        return Outcome({"record": collection.id, "metadata": {"createdAt": collection.created_at, "name": name}})
    raise ServiceUnavailable()


def _owned(account_id: str, collection_id: str) -> Collection:
    found = collections.get(account_id, collection_id)
    if found is None:
        raise CollectionNotFound()
    return found


def list_collections(credentials: Credentials) -> Outcome:
    return Outcome(
        [
            {
                "record": c.id,
                "collectionMeta": {"name": c.name},
                "schemaDocId": c.schema_doc_id,
                "createdAt": c.created_at,
            }
            for c in collections.list_all(master(credentials))
        ]
    )


def _changed(account_id: str, collection_id: str, change: Any) -> Collection:
    """Apply ``change(collection)`` to the collection as it is now, retrying a lost race."""
    for _ in range(get_settings().write_attempts):
        current = _owned(account_id, collection_id)
        try:
            change(current)
        except StaleWrite:
            continue
        return current
    raise ServiceUnavailable()


def rename(credentials: Credentials, collection_id: str, name: str) -> Outcome:
    account_id = master(credentials)
    _changed(account_id, collection_id, lambda c: collections.rename(c, name))
    return Outcome({"record": collection_id, "metadata": {"name": name}})


def _schema_doc_answer(collection: Collection, schema_doc_id: str | None) -> Outcome:
    return Outcome(
        {
            "collectionName": collection.name,
            "schemaDocId": schema_doc_id,
            "metadata": {"id": collection.id, "createdAt": collection.created_at},
        }
    )


def attach(credentials: Credentials, collection_id: str, schema_doc_id: str) -> Outcome:
    """Attach the schema doc (replacing any other). Bins already stored are not validated."""
    account_id = master(credentials)
    collection = _owned(account_id, collection_id)
    if schema_docs.get(account_id, schema_doc_id) is None:
        raise InvalidSchemaDocId()
    collection = _changed(account_id, collection_id, lambda c: collections.set_schema_doc(c, schema_doc_id))
    return _schema_doc_answer(collection, schema_doc_id)


def detach(credentials: Credentials, collection_id: str, schema_doc_id: str | None) -> Outcome:
    """Detach the collection's schema doc (``schema_doc_id``, if given, must be it); detaching
    when none is attached answers ``schemaDocId: null`` and changes nothing."""
    account_id = master(credentials)
    for _ in range(get_settings().write_attempts):
        collection = _owned(account_id, collection_id)
        attached = collection.schema_doc_id
        if schema_doc_id is not None and schema_doc_id != attached:
            raise InvalidSchemaDocId()
        if attached is None:
            return _schema_doc_answer(collection, None)
        try:
            collections.set_schema_doc(collection, None)
        except StaleWrite:
            continue
        return _schema_doc_answer(collection, attached)
    raise ServiceUnavailable()


def _shown(item: Listed) -> dict[str, Any]:
    return {
        "snippetMeta": {"name": item.name} if item.name is not None else {},
        "private": item.private,
        "record": item.bin_id,
        "createdAt": item.created_at,
    }


def list_bins(
    credentials: Credentials, collection_id: str | None, ascending: bool, last_bin_id: str | None = None
) -> Outcome:
    """A page of the collection's bins (``collection_id`` None: the bins in no collection)."""
    if credentials.master_key is None:
        raise MissingMasterKey()
    only_master = Credentials(master_key=credentials.master_key)
    after = None
    if last_bin_id is None:
        account_id = master(only_master)
        if collection_id is not None:
            _owned(account_id, collection_id)
    else:
        account_id, cursor = bins.authenticated_read(only_master, last_bin_id)
        # A bin of this listing proves the collection is the caller's (collections are never deleted).
        if cursor is None or cursor.owner != account_id or cursor.collection_id != collection_id:
            if collection_id is not None:
                _owned(account_id, collection_id)
            raise InvalidBinId()
        after = listing.sort_key(cursor)
    return Outcome([_shown(item) for item in listing.page(account_id, collection_id, ascending, after)])
