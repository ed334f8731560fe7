"""Delete Bin Versions: the product's core use case.

The whole operation is one conditional write (``dal.bins.cut_over``) that moves the bin
to a new, empty generation, optionally copying the latest record onto the base record
in that same write. Old version items are unreadable from that instant and are removed
physically afterwards by the stream-driven purge (``handlers/purge.py``), so the request
costs the same few calls for 1 or 1000 versions:

    auth+quota || base read  ->  [latest version read]  ->  one conditional UpdateItem
"""

from __future__ import annotations

from binvault.dal import bins
from binvault.exceptions import StaleWrite
from binvault.logic.bins import authorize_write, with_fresh_state
from binvault.models.bins import Bin, Outcome, StoredRecord, etag_for

DELETED_MESSAGE = "Versions for the Bin are deleted successfully"


def delete_versions(master_key: str | None, bin_id: str, preserve_latest: bool, if_match: list[str] | None) -> Outcome:
    def attempt(base: Bin) -> Outcome:
        if base.version_count == 0:
            # Nothing to cut over: the call is idempotent and changes nothing.
            return _deleted(base.id, 0, base.etag)
        preserved: StoredRecord | None = None
        if preserve_latest:
            latest = bins.get_version(base.id, base.generation, base.version_count)
            if latest is None:  # cut over by someone else since our read
                raise StaleWrite()
            preserved = latest.record
        bins.cut_over(base, preserved)
        return _deleted(base.id, base.version_count, etag_for(base.id, base.rev + 1))

    return with_fresh_state(authorize_write(master_key, bin_id), if_match, attempt)


def _deleted(bin_id: str, count: int, etag: str) -> Outcome:
    body = {"metadata": {"id": bin_id, "versionsDeleted": count}, "message": DELETED_MESSAGE}
    return Outcome(body, etag)
