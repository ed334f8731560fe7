"""Create the tables exactly as template.yaml declares them (keys, streams, TTL), and the
records bucket (dal/blobs.py) the template declares beside them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    import yaml

    class CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
        """Reads CloudFormation's short-form tags (!Ref, !GetAtt, ...) as plain values."""

    def any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return {suffix: loader.construct_scalar(node)}
        if isinstance(node, yaml.SequenceNode):
            return {suffix: loader.construct_sequence(node)}
        return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]

    CfnLoader.add_multi_constructor("!", any_tag)
    with path.open() as stream:
        template: dict[str, Any] = yaml.load(stream, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    return template


def table_definitions(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Logical id -> the table's properties, for every AWS::DynamoDB::Table."""
    resources = (template or load_template())["Resources"]
    return {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }


@lru_cache(maxsize=1)
def _declared_tables() -> dict[str, dict[str, Any]]:
    """template.yaml's tables, parsed once a process: the tests create them for every test,
    and parsing the whole template (PyYAML, pure Python) cost more than creating them."""
    return table_definitions()


def create_table(client: Any, logical_id: str, table_name: str) -> None:
    props = _declared_tables()[logical_id]
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props["BillingMode"],
    }
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    client.create_table(**kwargs)
    client.get_waiter("table_exists").wait(TableName=table_name)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)


def create_tables(client: Any, table_name: str, idempotency_table_name: str, records_bucket: bool = True) -> None:
    """Both tables on ``client``'s endpoint and, with ``records_bucket``, the records bucket
    that this process's settings name (``dal.blobs``: its endpoint and name come from the
    environment, not from ``client``). A fixture that only serves a child process with small
    records, and has no binvault settings of its own, passes ``records_bucket=False``."""
    create_table(client, "BinsTable", table_name)
    create_table(client, "IdempotencyTable", idempotency_table_name)
    if records_bucket:
        from binvault.dal import blobs

        blobs.ensure_bucket()
