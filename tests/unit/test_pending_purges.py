"""What a restarted local stack asks the purge to do again (binvault.local.streams.pending_purges):
exactly the purges whose leftovers are still in the replayed table or bucket, nothing else."""

from __future__ import annotations

from typing import Any

from binvault.handlers.purge import PurgeTarget, purge_target
from binvault.local.streams import pending_purges

BIN, OTHER = "0123456789abcdef01234567", "89abcdef0123456789abcdef"


def item(bin_id: str, sk: str, **attributes: Any) -> dict[str, Any]:
    return {"pk": {"S": f"BIN#{bin_id}"}, "sk": {"S": sk}, **attributes}


def version(bin_id: str, generation: int, number: int) -> dict[str, Any]:
    return item(bin_id, f"V#{generation:010d}#{number:06d}")


def targets(items: list[dict[str, Any]], objects: tuple[str, ...] = ()) -> list[PurgeTarget | None]:
    return [purge_target(record) for record in pending_purges(items, objects)]


def test_a_table_with_nothing_left_over_asks_nothing() -> None:
    below = {"purgeBelow": {"N": "2"}, "recordAt": {"S": "V#0000000001#000003"}}
    items = [
        item(BIN, "BIN", **below),
        version(BIN, 1, 3),  # the preserved latest the base reads
        version(BIN, 2, 1),  # a version of the current generation
        item(OTHER, "BIN", drop={"S": "R#gone b/89abcdef0123456789abcdef/gone"}),
        {"pk": {"S": "ACCOUNT#a"}, "sk": {"S": "ACCOUNT"}},
    ]
    assert pending_purges(items, (f"b/{OTHER}/kept",)) == []


def test_a_cut_over_whose_old_versions_are_still_there_is_asked_again() -> None:
    base = item(BIN, "BIN", purgeBelow={"N": "1"}, recordAt={"S": "V#0000000000#000002"})
    items = [base, version(BIN, 0, 1), version(BIN, 0, 2), version(BIN, 1, 1)]
    assert targets(items) == [PurgeTarget(BIN, below=1, keep="V#0000000000#000002")]
    assert targets([item(BIN, "BIN", purgeBelow={"N": "3"}), version(BIN, 2, 5)]) == [PurgeTarget(BIN, below=3)]


def test_a_drop_whose_record_or_object_is_still_there_is_asked_again() -> None:
    dropped = {"drop": {"S": f"R#old b/{BIN}/old"}}
    assert targets([item(BIN, "BIN", **dropped), item(BIN, "R#old")]) == [
        PurgeTarget(BIN, dropped=["R#old", f"b/{BIN}/old"])
    ]
    assert targets([item(BIN, "BIN", **dropped)], (f"b/{BIN}/old",)) == [
        PurgeTarget(BIN, dropped=["R#old", f"b/{BIN}/old"])
    ]


def test_a_deleted_bins_items_or_objects_ask_for_its_whole_purge() -> None:
    assert targets([version(BIN, 0, 1), item(BIN, "R#x")]) == [PurgeTarget(BIN, everything=True)]
    assert targets([], (f"b/{OTHER}/x", "not-ours/x")) == [PurgeTarget(OTHER, everything=True)]


def test_every_asked_purge_has_its_own_sequence_number() -> None:
    records = pending_purges([version(BIN, 0, 1), version(OTHER, 0, 1)])
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert len(set(numbers)) == len(numbers) == 2
