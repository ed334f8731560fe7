"""The moto patches (``binvault.local.moto_fixes``), fenced.

Every unit test and the local stack run on the patched emulator, and the patches reach
into moto's internals. These tests fail loudly when a moto upgrade moves those internals
(the canaries), and prove each patch still does what it is for (the behaviours). When a
canary fails: read the patch's item in moto_fixes' docstring, check whether the upgrade
made it unnecessary (the docstring says what upstream change would), and either drop it
or adapt it.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

import pytest

from tests.conftest import TABLE


@pytest.fixture
def client(ddb: Any) -> Any:
    return ddb


# ---- canaries: the internals the patches touch ----------------------------------------------


@pytest.fixture(autouse=True)
def patched() -> None:
    """Canaries look through the patches to moto's own code (the patches keep __wrapped__)."""
    from binvault.local import moto_fixes

    moto_fixes.install()


def test_moto_is_the_pinned_release() -> None:
    import moto

    pinned = next(
        line.split("==")[1].strip()
        for line in open("requirements-dev.txt").read().splitlines()  # noqa: SIM115
        if line.startswith("moto[")
    )
    assert moto.__version__ == pinned, "moto changed: re-check every canary below, then update the pin"


def test_transactions_still_copy_tables_through_the_module_copy() -> None:
    from moto.dynamodb import models

    source = inspect.getsource(inspect.unwrap(models.DynamoDBBackend.transact_write_items))
    assert "copy.deepcopy" in source  # item 2 replaces models.copy
    from moto.dynamodb.models.table import StreamShard, Table

    for name in ("get_item", "items", "hash_key_attr", "range_key_attr", "stream_shard"):
        assert name in dir(Table) or name in inspect.getsource(Table.__init__), name
    assert "items" in inspect.getsource(StreamShard.__init__)
    assert "starting_sequence_number" in inspect.getsource(StreamShard.__init__)


def test_query_still_reads_all_items() -> None:
    from moto.dynamodb.models.table import Table

    query = inspect.unwrap(Table.query)  # moto's own, patched or not
    assert {"hash_key", "index_name"} <= set(inspect.signature(query).parameters)  # item 3 binds these by name
    assert "all_items()" in inspect.getsource(query)  # the call item 3 narrows
    # item 3's projected query: moto still copies the results, then projects them (new items)
    source = inspect.getsource(query)
    assert source.index("results = copy.deepcopy(results)") < source.index("r.project(projection_expressions)")
    assert "projection_expressions" in inspect.signature(query).parameters
    assert "Item(" in inspect.getsource(
        inspect.unwrap(__import__("moto.dynamodb.models.dynamo_type").dynamodb.models.dynamo_type.Item.project)
    )


def test_models_still_track_their_instances() -> None:
    import moto.dynamodbstreams.models  # noqa: F401 - registers its models
    from moto.core.model_instances import model_data

    assert {"dynamodb", "dynamodbstreams"} <= set(model_data)  # item 4 untracks these
    for model in model_data["dynamodb"].values():
        assert hasattr(model, "instances_tracked")


def test_stream_iterators_are_still_kept_by_arn() -> None:
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    get_records = inspect.unwrap(DynamoDBStreamsBackend.get_records)
    assert list(inspect.signature(get_records, follow_wrapped=False).parameters) == ["self", "iterator_arn", "limit"]
    assert "shard_iterators[" in inspect.getsource(get_records)  # item 4 pops what moto only reads
    assert "shard_iterators" in inspect.getsource(DynamoDBStreamsBackend.__init__)


def test_the_serializer_still_picks_members_through_the_six_alias_providers() -> None:
    from moto.core import serialize

    # item 6 remembers what these six say of a structure's members in a dict: each reads
    # only the member's key and shape, its parent and the value's class (and a value's Meta,
    # which a dict has not); a new provider needs a look
    names = [provider.__name__ for provider in serialize.DEFAULT_ALIAS_PROVIDERS]
    assert names == ["ExplicitAlias", "ShapeNameAlias", "NoAlias", "ShapePrefixAlias", "ClassPrefixAlias", "ModelAlias"]
    # and the loop item 6 stands in for: every member, its value by the picker, None skipped
    loop = inspect.getsource(serialize.ResponseSerializer._serialize_type_structure)
    assert "member_shape.parent = shape" in loop and "self._serialize_structure_member(" in loop
    member = inspect.getsource(serialize.ResponseSerializer._serialize_structure_member)
    assert "self.get_value(value, key, shape)" in member and "if member_value is not None:" in member
    assert "self._value_picker(context)" in inspect.getsource(serialize.ResponseSerializer.get_value)
    picking = inspect.getsource(serialize.AttributePicker.__call__)
    assert "get_value(obj, possible_key, MISSING)" in picking and "response_transformers" in picking
    assert "is_document_type" in inspect.getsource(
        inspect.unwrap(serialize.BaseJSONSerializer._serialize_type_structure)
    )
    assert "_serialize_structure_member" not in vars(serialize.JSONSerializer)


def test_expressions_are_still_parsed_per_use_and_only_read() -> None:
    # item 7 keeps one parse of each text: moto must still only read a parsed update
    # expression (its validator resolves a deep copy), and evaluating a condition must
    # change nothing in it
    import re

    from moto.dynamodb import comparisons
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.parsing import expressions, validators

    make = inspect.unwrap(expressions.UpdateExpressionParser.make.__func__)
    assert "cls(token_list).parse()" in inspect.getsource(make)
    assert "self.node_to_validate = deepcopy(expression)" in inspect.getsource(validators.Validator.__init__)
    update_item = inspect.getsource(inspect.unwrap(DynamoDBBackend.update_item))
    assert update_item.count("UpdateExpressionParser.make(") == 1 and "UpdateExpressionValidator(" in update_item
    parse = inspect.getsource(inspect.unwrap(comparisons.ConditionExpressionParser.parse))
    assert "self.expr_attr_names_found.extend(" in parse and "self.expr_attr_values_found.extend(" in parse
    lexer = inspect.getsource(comparisons.ConditionExpressionParser._lex_one_node)
    assert 'attribute_regex = r"(:|#)?[A-z0-9\\-_]+"' in lexer  # moto_fixes._VALUE_PLACEHOLDER mirrors it
    for name, kind in vars(comparisons).items():
        if isinstance(kind, type) and "expr" in vars(kind):
            assert not re.search(r"self\.\w+(\[.*\])? = ", inspect.getsource(kind.expr)), name


# ---- behaviours: each patch still does its job ------------------------------------------------


def test_conditional_writes_are_atomic_under_threads(client: Any) -> None:
    # item 1: of many threads putting the same new item conditionally, exactly one wins
    barrier = threading.Barrier(8, timeout=10)
    wins: list[int] = []

    def put(number: int) -> None:
        barrier.wait()
        try:
            client.put_item(
                TableName=TABLE,
                Item={"pk": {"S": "race"}, "sk": {"S": "x"}, "n": {"N": str(number)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            wins.append(number)
        except client.exceptions.ConditionalCheckFailedException:
            pass

    threads = [threading.Thread(target=put, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1


def test_a_read_never_sees_an_item_an_update_is_changing(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # item 1: GetItem's response is made from moto's live item. Right when the read has it,
    # an update of the same item starts on another thread: it must wait for the read's
    # response (the lock), or it changes the item under the serialiser ("dictionary changed
    # size during iteration", or a read of half an update).
    from moto.dynamodb.models.dynamo_type import Item

    key = {"pk": {"S": "race"}, "sk": {"S": "map"}}
    client.put_item(TableName=TABLE, Item={**key, "m": {"M": {"before": {"S": "x"}}}})
    describe = Item.describe_attrs
    writers: list[threading.Thread] = []

    def update() -> None:
        client.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET m.#k = :v",
            ExpressionAttributeNames={"#k": "after"},
            ExpressionAttributeValues={":v": {"S": "y"}},
        )

    def describe_then_update(self: Any, attributes: Any = None) -> Any:
        described = describe(self, attributes)
        if not writers:
            writers.append(threading.Thread(target=update))
            writers[0].start()
            writers[0].join(timeout=0.3)  # long enough for an update that nothing holds up
        return described

    monkeypatch.setattr(Item, "describe_attrs", describe_then_update)
    read = client.get_item(TableName=TABLE, Key=key)["Item"]
    updated_during_the_read = not writers[0].is_alive()
    writers[0].join()
    assert not updated_during_the_read
    assert read["m"] == {"M": {"before": {"S": "x"}}}
    assert client.get_item(TableName=TABLE, Key=key)["Item"]["m"]["M"]["after"] == {"S": "y"}


def _stream_length() -> int:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE]
    return len(table.stream_shard.items)


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(client: Any) -> None:
    # item 2: the undo log gives moto's all-or-nothing without copying the table
    client.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"N": "1"}})
    before, stream = client.scan(TableName=TABLE)["Items"], _stream_length()
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"N": "2"}}}},
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "b"}, "sk": {"S": "1"}}}},
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"pk": {"S": "a"}, "sk": {"S": "2"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert client.scan(TableName=TABLE)["Items"] == before
    assert _stream_length() == stream


def test_a_query_reads_its_partition_in_range_key_order(client: Any) -> None:
    # item 3: same answers as moto's whole-table query, partition only
    for pk in ("p", "q"):
        for sk in ("3", "1", "2"):
            client.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": sk}})
    forward = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )["Items"]
    backward = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p AND sk > :s",
        ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"S": "1"}},
        ScanIndexForward=False,
    )["Items"]
    assert [(i["pk"]["S"], i["sk"]["S"]) for i in forward] == [("p", "1"), ("p", "2"), ("p", "3")]
    assert [i["sk"]["S"] for i in backward] == ["3", "2"]


def test_a_projected_query_copies_no_item_and_changes_none(client: Any, monkeypatch: Any) -> None:
    # item 3: a projected table query answers as before without deep-copying what it read
    from moto.dynamodb.models.dynamo_type import Item

    for sk in ("1", "2"):
        client.put_item(TableName=TABLE, Item={"pk": {"S": "p"}, "sk": {"S": sk}, "big": {"M": {"a": {"S": "x"}}}})
    copied: list[Any] = []
    original = Item.__deepcopy__
    monkeypatch.setattr(Item, "__deepcopy__", lambda item, memo: copied.append(item) or original(item, memo))
    query = {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}}
    projected = client.query(**query, ProjectionExpression="pk, sk")["Items"]
    assert projected == [{"pk": {"S": "p"}, "sk": {"S": sk}} for sk in ("1", "2")]
    assert copied == []
    # a filtered one neither; whole items (no projection) are still copied; nothing stored changed
    filtered = client.query(
        **{**query, "ExpressionAttributeValues": {":p": {"S": "p"}, ":s": {"S": "2"}}},
        ProjectionExpression="sk",
        FilterExpression="sk = :s",
    )["Items"]
    assert filtered == [{"sk": {"S": "2"}}] and copied == []
    whole = client.query(**query)["Items"]
    assert [i["big"] for i in whole] == [{"M": {"a": {"S": "x"}}}] * 2 and len(copied) == 2


def test_models_keep_no_instances(client: Any) -> None:
    # item 4: a long-running emulator does not keep every item version alive
    from moto.core.model_instances import model_data

    for n in range(20):
        client.put_item(TableName=TABLE, Item={"pk": {"S": "m"}, "sk": {"S": str(n)}})
    kept = {name: len(model.instances_tracked) for name, model in model_data["dynamodb"].items()}
    assert not any(kept.values()), kept


def test_released_stream_records_keep_their_sequence_numbers(client: Any) -> None:
    # item 4: records a consumer has read are dropped; what follows is numbered as before
    import boto3

    from binvault.local import moto_fixes

    streams = boto3.client("dynamodbstreams")
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    for n in range(3):
        client.put_item(TableName=TABLE, Item={"pk": {"S": "s"}, "sk": {"S": str(n)}})
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    first = streams.get_records(ShardIterator=iterator["ShardIterator"])
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in first["Records"]]
    assert moto_fixes.release_stream_records(TABLE, numbers[-1]) == 3
    client.put_item(TableName=TABLE, Item={"pk": {"S": "s"}, "sk": {"S": "3"}})
    after = streams.get_records(ShardIterator=first["NextShardIterator"])["Records"]
    assert [int(r["dynamodb"]["SequenceNumber"]) for r in after] == [numbers[-1] + 1]
    # and a used iterator is forgotten
    with pytest.raises(Exception):
        streams.get_records(ShardIterator=iterator["ShardIterator"])


def _every_kind_of_response(client: Any, streams: Any) -> None:
    """Every kind of DynamoDB and Streams response the service reads (its errors, moto's
    JsonRESTError, do not pass through the serializer)."""
    item = {
        "pk": {"S": "kinds"}, "sk": {"S": "all"}, "n": {"N": "1.5"}, "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"x", b"y"]},
        "m": {"M": {"inner": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}, {"M": {}}]}}},
        "l": {"L": []}, "t": {"BOOL": True}, "e": {"S": ""},
    }  # fmt: skip
    key = {"pk": {"S": "kinds"}, "sk": {"S": "all"}}
    failing = {"ConditionExpression": "attribute_not_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    client.put_item(TableName=TABLE, Item=item, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
    client.put_item(TableName=TABLE, Item=item, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
    for n in range(3):
        client.put_item(TableName=TABLE, Item={"pk": {"S": "kinds"}, "sk": {"S": f"v{n}"}, "n": {"N": str(n)}})
    client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
    client.get_item(TableName=TABLE, Key=key, ProjectionExpression="m.inner, ss")
    client.get_item(TableName=TABLE, Key={"pk": {"S": "none"}, "sk": {"S": "none"}})
    values = {":p": {"S": "kinds"}}
    client.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues=values, Limit=2)
    client.scan(TableName=TABLE, Select="COUNT")
    client.update_item(
        TableName=TABLE, Key=key, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "2"}},
        ReturnValues="ALL_NEW",
    )  # fmt: skip
    client.batch_get_item(RequestItems={TABLE: {"Keys": [key, {"pk": {"S": "kinds"}, "sk": {"S": "v1"}}]}})
    client.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": item}}]})
    client.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key}}])
    client.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": item}}], ClientRequestToken="t")
    for refused in (
        lambda: client.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": item, **failing}}]),
        lambda: client.put_item(TableName=TABLE, Item=item, **failing),
        lambda: client.get_item(TableName="no-such-table", Key=key),
    ):
        with pytest.raises(client.exceptions.ClientError):
            refused()
    client.describe_table(TableName=TABLE)
    client.describe_time_to_live(TableName=TABLE)
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    assert streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def test_responses_are_serialised_exactly_as_moto_does(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # item 6: each response's result serialised twice, with the remembered member keys and
    # with moto's own picker: the same bytes, for every kind of response
    import boto3
    from moto.core import responses, serialize

    serializer = serialize.BaseJSONSerializer
    patched = serializer._serialize_type_structure
    moto_s = inspect.unwrap(patched)
    assert moto_s is not patched
    execute = responses.ActionResult.execute_result
    seen: list[tuple[str, Any, Any]] = []

    def serialise_both_ways(self: Any, context: Any) -> Any:
        fast = execute(self, context)
        serializer._serialize_type_structure = moto_s
        try:
            slow = execute(self, context)
        finally:
            serializer._serialize_type_structure = patched
        seen.append((context.operation_model.name, fast, slow))
        return fast

    monkeypatch.setattr(responses.ActionResult, "execute_result", serialise_both_ways)
    _every_kind_of_response(client, boto3.client("dynamodbstreams"))
    kinds = {name for name, _, _ in seen}
    assert {"PutItem", "GetItem", "Query", "Scan", "UpdateItem", "BatchGetItem", "BatchWriteItem"} <= kinds
    assert {"TransactGetItems", "TransactWriteItems", "DescribeTable", "GetRecords", "DescribeStream"} <= kinds
    for name, fast, slow in seen:  # (status, headers, body); moto adds its headers to the answer's later
        assert (fast[0], fast[2]) == (slow[0], slow[2]), name


def test_a_members_keys_are_worked_out_once(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # item 6: the second read of an item asks no alias provider anything
    from moto.core import serialize

    client.put_item(TableName=TABLE, Item={"pk": {"S": "once"}, "sk": {"S": "1"}, "v": {"M": {"a": {"S": "b"}}}})
    client.get_item(TableName=TABLE, Key={"pk": {"S": "once"}, "sk": {"S": "1"}})
    asked = []
    original = serialize.NoAlias.has_alias
    monkeypatch.setattr(serialize.NoAlias, "has_alias", lambda self, key: asked.append(key) or original(self, key))
    client.get_item(TableName=TABLE, Key={"pk": {"S": "once"}, "sk": {"S": "1"}})
    assert asked == []


def _update(key: dict[str, Any], expression: str, values: dict[str, Any], **more: Any) -> tuple[str, dict[str, Any]]:
    return "update_item", {"Key": key, "UpdateExpression": expression, "ExpressionAttributeValues": values, **more}


def _expression_workout(client: Any, prefix: str) -> list[Any]:
    """Updates, conditions and filters that reuse each text with other names and values,
    refused texts among them; every answer (or error) in order."""
    key = {"pk": {"S": prefix}, "sk": {"S": "a"}}
    other = {"pk": {"S": prefix}, "sk": {"S": "b"}}
    below = "n < :lim AND NOT contains(tags, :tag)"
    grow = "SET n = if_not_exists(n, :zero) + :one, #f = :v ADD tags :tags"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("put_item", {"Item": {**key, "n": {"N": "1"}, "l": {"L": [{"S": "x"}, {"S": "y"}, {"S": "z"}]}}}),
        ("put_item", {"Item": {**other, "n": {"N": "7"}}}),
    ]
    for n, (lim, field, tag) in enumerate([("5", "f1", "t1"), ("5", "f2", "t1"), ("2", "f1", "t9"), ("9", "f1", "t1")]):
        values = {":zero": {"N": "0"}, ":one": {"N": "1"}, ":v": {"S": f"v{n}"}, ":lim": {"N": lim}, ":tag": {"S": tag}}
        values[":tags"] = {"SS": [tag, f"x{n}"]}
        steps.append(
            _update(
                key,
                grow,
                values,
                ConditionExpression=below,
                ExpressionAttributeNames={"#f": field},
                ReturnValues="ALL_NEW",
            )
        )
    # a set the condition refers to, stored by the write, then grown in place by the next
    # (moto keeps the request's list in the item): the condition's next use is unchanged
    differs = "attribute_not_exists(s) OR s <> :s"
    steps.append(_update(other, "SET s = :s", {":s": {"SS": ["a"]}}, ConditionExpression=differs))
    steps.append(_update(other, "ADD s :t", {":t": {"SS": ["b"]}}))
    steps.append(_update(other, "SET s = :s", {":s": {"SS": ["a"]}}, ConditionExpression=differs))
    for _ in range(2):  # refused texts, refused each time
        steps.append(_update(key, "SET = :v", {":v": {"S": "x"}}))
        steps.append(_update(key, "SET n = :v", {":v": {"N": "1"}}, ConditionExpression="n < :missing"))
        steps.append(_update(key, "REMOVE l[2], l[0]", {":s": {"N": "2"}}, ConditionExpression="size(l) > :s"))
    for lim in ("3", "8"):
        values = {":one": {"N": "1"}, ":lim": {"N": lim}}
        increments = [_update(k, "SET n = n + :one", values, ConditionExpression="n < :lim")[1] for k in (key, other)]
        steps.append(
            ("transact_write_items", {"TransactItems": [{"Update": {"TableName": TABLE, **u}} for u in increments]})
        )
    for low in ("2", "7", "100"):
        values = {":p": {"S": prefix}, ":low": {"N": low}}
        steps.append(
            (
                "query",
                {
                    "KeyConditionExpression": "pk = :p",
                    "FilterExpression": "n >= :low",
                    "ExpressionAttributeValues": values,
                },
            )
        )
    outcomes: list[Any] = []
    for operation, kwargs in steps:
        if operation != "transact_write_items":
            kwargs = {"TableName": TABLE, **kwargs}
        try:
            answer = getattr(client, operation)(**kwargs)
            answer.pop("ResponseMetadata")
            outcomes.append(answer)
        except client.exceptions.ClientError as error:
            outcomes.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
        except KeyError as error:  # moto's own answer to a missing placeholder (AWS: a ValidationException)
            outcomes.append(("KeyError", str(error)))
    return outcomes


def test_remembered_expressions_answer_as_moto_does(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # item 7: the same workout with the parses remembered and with moto parsing each use:
    # the same answers, errors and items (a parsed text reused with other names and
    # values, and after a write that could reach the values it was parsed from)
    import json

    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    remembered = _expression_workout(client, "remembered")
    remembered_items = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "remembered"}}
    )["Items"]
    assert (
        remembered[2]["Attributes"]["tags"] == {"SS": ["t1", "x0"]}
        and remembered[4][0] == "ConditionalCheckFailedException"
    )
    monkeypatch.setattr(
        UpdateExpressionParser, "make", classmethod(inspect.unwrap(UpdateExpressionParser.make.__func__))
    )
    monkeypatch.setattr(ConditionExpressionParser, "parse", inspect.unwrap(ConditionExpressionParser.parse))
    own = _expression_workout(client, "own")
    own_items = client.query(
        TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "own"}}
    )["Items"]
    assert json.dumps(remembered).replace("remembered", "own") == json.dumps(own)
    assert json.dumps(remembered_items).replace("remembered", "own") == json.dumps(own_items)


def test_an_expression_is_parsed_once_per_text(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # item 7: a second update with the same texts tokenises nothing; a condition is parsed
    # again for other values it refers to, not for other values it does not
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import ExpressionTokenizer

    tokenised, lexed = [], []
    make_list, lex = ExpressionTokenizer.make_list, ConditionExpressionParser._lex_condition_expression
    monkeypatch.setattr(
        ExpressionTokenizer, "make_list", staticmethod(lambda text: tokenised.append(text) or make_list(text))
    )
    monkeypatch.setattr(
        ConditionExpressionParser, "_lex_condition_expression", lambda self: lexed.append(1) or lex(self)
    )

    def update(lim: str, value: str) -> None:
        _, kwargs = _update(
            {"pk": {"S": "once"}, "sk": {"S": "1"}},
            "SET v = :v, w = :lim",
            {":v": {"S": value}, ":lim": {"N": lim}},
            ConditionExpression="attribute_not_exists(v) OR w <= :lim",
        )
        client.update_item(TableName=TABLE, **kwargs)

    update("1", "a")
    tokenised.clear(), lexed.clear()
    update("1", "b")  # other value, not in the condition
    assert tokenised == [] and lexed == []
    update("2", "b")  # other value in the condition
    assert tokenised == [] and len(lexed) == 1
