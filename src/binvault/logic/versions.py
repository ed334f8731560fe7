"""Delete Bin Versions: the product's core use case.

The whole operation is one conditional write (``dal.bins.cut_over``) that moves the bin
to a new, empty generation, optionally copying the latest record onto the base record
in that same write. Old version items are unreadable from that instant and are removed
physically afterwards by the stream-driven purge (``handlers/purge.py``), so the request
costs the same few calls for 1 or 1000 versions:

    auth+quota || base read  ->  [latest version read]  ->  one conditional UpdateItem

whatever the size of the records: with ``X-Preserve-Latest`` a large latest record is not
copied, the base item's ``recordAt`` is pointed at the latest version's item (which the
purge then keeps, with its S3 object), and S3 is never called on this path. The old
generation's S3 objects are deleted by the purge, each before its item (``dal/purge.py``).

Everything that can go wrong, where it is decided, and what the client sees (the route in
``handlers/api.py`` validates the input and maps every domain exception to its status):

=============================================  ================================  ===========
what happens                                   decided in                        answer
=============================================  ================================  ===========
malformed id, X-Preserve-Latest or If-Match,   ``logic/inputs.py`` (no I/O yet)   400
or a body on this route
no key / unknown or rotated key                ``logic/auth.py``, the decrement   401
                                               in ``dal/accounts.py``
quota used up (nothing charged)                ``dal/accounts.py`` decrement      403
bin missing or another account's               ``authorize_write`` (logic/bins)   404
stale If-Match                                 ``with_fresh_state`` (logic/bins)  412
lost a race with another writer (the ``rev``   ``dal/bins.py`` -> StaleWrite ->   retried, then
condition failed, or a transaction conflict)   ``with_fresh_state`` re-reads      503
throttling / 5xx / network beyond botocore's   ``dal/client.py``                  503 +
retries, or the invocation's deadline                                             Retry-After
response lost after DynamoDB applied the       ``dal/bins.py`` (``Stamp``)        200, once
cut-over (botocore sent it again)
no versions                                    below                              200, 0
=============================================  ================================  ===========
"""

from __future__ import annotations

from binvault.dal import bins
from binvault.exceptions import StaleWrite
from binvault.logic.bins import Key, authorize_read, authorize_write, with_fresh_state
from binvault.models.bins import Bin, Outcome, Version, etag_for

DELETED_MESSAGE = "Versions for the Bin are deleted successfully"
# Versions a page of ``GET /b/{id}/versions`` lists (fewer when they pass DynamoDB's 1 MB).
VERSIONS_PAGE_SIZE = 100


def list_versions(key: Key, bin_id: str, before: int | None) -> Outcome:
    """A page of the bin's versions, newest first (a binvault extension): the versions
    numbered below ``before`` (all of them when None). Authenticated, charged and readable
    as ``GET /b/{id}/versions/count`` is; one Query a page after the base read, none when the
    bin has no version below ``before``. ``next`` is the ``before`` of the next page (None at
    the end). The page is the versions as the base read found them: one appended since is
    on the next first page, a cut-over since leaves this page as it was before it."""
    base = authorize_read(key, bin_id)
    below = base.version_count + 1 if before is None else min(before, base.version_count + 1)
    page = bins.version_page(base.id, base.generation, below, VERSIONS_PAGE_SIZE)
    listed = [
        {"version": version.number, "createdAt": version.created_at, "storedBytes": version.stored_bytes}
        for version in page
    ]
    last = page[-1].number if page else 1
    metadata = {"id": base.id, "versionCount": base.version_count, "private": base.private}
    return Outcome({"metadata": metadata, "versions": listed, "next": last if last > 1 else None}, base.etag)


def delete_versions(key: Key, bin_id: str, preserve_latest: bool, if_match: list[str] | None) -> Outcome:
    def attempt(base: Bin) -> Outcome:
        if base.version_count == 0:
            # Nothing to cut over: the call is idempotent and changes nothing.
            return _deleted(base.id, 0, base.etag)
        preserved: Version | None = None
        if preserve_latest:
            preserved = bins.get_version(base.id, base.generation, base.version_count)
            if preserved is None:  # cut over by someone else since our read
                raise StaleWrite()
        bins.cut_over(base, preserved)
        return _deleted(base.id, base.version_count, etag_for(base.id, base.rev + 1))

    return with_fresh_state(authorize_write(key, bin_id, "delete"), if_match, attempt)


def _deleted(bin_id: str, count: int, etag: str) -> Outcome:
    body = {"metadata": {"id": bin_id, "versionsDeleted": count}, "message": DELETED_MESSAGE}
    return Outcome(body, etag)
