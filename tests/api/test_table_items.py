"""``tests.conftest.table_items`` reads moto's backend in-process: it must answer exactly what
a consistent Scan through botocore does, for every kind of item the service writes."""

from __future__ import annotations

from typing import Any

from tests.conftest import IDEMPOTENCY_TABLE, TABLE, Account, Api, add_versions, item_key, moto_items, scanned_items


def test_the_backend_read_is_a_scan(ddb: Any, account: Account, api: Api) -> None:
    # Given one of everything: bins (small, compressed, large in S3, public, named), versions,
    # an idempotent create, a collection with a schema doc, an access key, quota shards
    bin_id = api.create({"v": 0}, X_Bin_Name="named").body["metadata"]["id"]
    add_versions(api, bin_id, 2)
    api.create({"text": "compressible " * 2000})
    api.create({"blob": "x" * 150_000})
    api.create({"public": True}, X_Bin_Private="false")
    api("POST", "/b", headers={"Idempotency-Key": "once"}, body={"made": "once"})
    collection = api("POST", "/c", headers={"X-Collection-Name": "c"}).body["record"]
    doc = api("POST", "/s", headers={"X-Schema-Doc-Name": "s"}, body={"type": "object"}).body["metadata"]["id"]
    api("PUT", f"/c/{collection}/schemadoc/add", headers={"X-Schema-Doc-Id": doc})
    api("POST", "/a", headers={"X-Key-Name": "k"}, body={"bins": {"read": True}})
    for table in (TABLE, IDEMPOTENCY_TABLE):
        read = moto_items(ddb, table)
        # Then the backend's answer is the Scan's, item for item, attribute types included
        assert read is not None
        assert sorted(read, key=item_key) == sorted(scanned_items(ddb, table), key=item_key)
    kinds = {next(iter(v)) for item in moto_items(ddb, TABLE) or [] for v in item.values()}
    assert {"S", "N", "B", "BOOL", "M"} <= kinds
