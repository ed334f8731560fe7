"""Purge, listing backfill and the orphan sweep: what the purge Lambda and the daily sweep do,
run by hand (a dead-lettered purge, bins stored before listings existed, a crashed write's
S3 objects)."""

from __future__ import annotations

from typing import Any

from binvault.dal import bins, listing
from binvault.dal.purge import ORPHAN_GRACE_SECONDS, purge_unreachable_records, purge_versions, sweep_orphans
from binvault.logic import inputs


def purge(bin_id: str) -> dict[str, Any]:
    """What the purge Lambda does for a cut-over, a dropped record or a bin delete, without
    its time limit: delete every version item (and S3 object) of the generations below the
    bin's current one except the one the base points to, and the record items the base no
    longer points to; or every item and object of the bin when it is gone (S3 objects that
    nothing points to any more are the sweep's: ``sweep-orphans``). Idempotent, so
    re-driving twice is harmless."""
    bin_id = inputs.bin_id(bin_id)
    base = bins.get_bin(bin_id)
    below = None if base is None else base.generation
    keep = None if base is None else base.record_at
    deleted = purge_versions(bin_id, below, keep=keep)
    if base is not None:  # replaced base records whose drop the stream's purge did not get to
        deleted += purge_unreachable_records(bin_id)
    return {"binId": bin_id, "binExists": base is not None, "belowGeneration": below, "deleted": deleted}


def register(commands: Any) -> None:
    """Add this group's sub-commands to the parser's ``commands``; each sets ``run``."""
    purge_command = commands.add_parser(
        "purge", help="delete a bin's unreachable versions (re-drive a purge that ended in the DLQ)"
    )
    purge_command.add_argument("bin_ids", nargs="+", metavar="bin_id")
    purge_command.set_defaults(run=lambda args: [purge(bin_id) for bin_id in args.bin_ids])
    backfill = commands.add_parser(
        "backfill-listing", help="give bins stored before listings existed their listing item (one Scan)"
    )
    backfill.set_defaults(run=lambda args: listing.backfill())
    sweep = commands.add_parser(
        "sweep-orphans", help="delete S3 objects no item points to (what a crashed write left behind)"
    )
    sweep.add_argument("--grace-seconds", type=float, default=ORPHAN_GRACE_SECONDS)
    sweep.set_defaults(run=lambda args: sweep_orphans(args.grace_seconds))
