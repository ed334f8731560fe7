"""template.yaml, checked where a mistake would otherwise surface only in AWS: handler
paths, least-privilege IAM, the purge stream's failure handling, the runtime."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest

from binvault.local.template_tables import TEMPLATE as TEMPLATE_PATH
from binvault.local.template_tables import load_template

TEMPLATE = load_template()
ROOT = TEMPLATE_PATH.parent
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
OWN = {"BinsTable", "IdempotencyTable", "PurgeDeadLetterQueue", "RecordsBucket", "UsageLogsDeadLetterQueue"}
FUNCTIONS = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
# SAM policy templates name their resource with one of these parameters
SAM_TEMPLATE_PARAMETERS = {"TableName", "QueueName", "StreamName"}


def test_template_declares_the_expected_functions() -> None:
    assert set(FUNCTIONS) == {"ApiFunction", "PurgeFunction", "UsageLogsFunction"}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_handler_imports_and_is_callable(name: str) -> None:
    handler = FUNCTIONS[name]["Properties"]["Handler"]
    module_name, _, attribute = handler.rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute)), handler


# ---- IAM: least privilege -----------------------------------------------------------------


def _role(function: dict[str, Any]) -> dict[str, Any]:
    """The function's explicit AWS::IAM::Role (SAM's generated roles grant more, see template)."""
    role = function["Properties"]["Role"]
    assert isinstance(role, dict) and set(role) == {"GetAtt"}, role
    name, _, attribute = role["GetAtt"].partition(".")
    assert attribute == "Arn"
    assert RESOURCES[name]["Type"] == "AWS::IAM::Role"
    return dict(RESOURCES[name]["Properties"])


def _conditional(policy: Any) -> bool:
    return isinstance(policy, dict) and set(policy) == {"If"}


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    """The role's unconditional statements (the one conditional policy is X-Ray's)."""
    statements: list[dict[str, Any]] = []
    for policy in _role(function).get("Policies", []):
        if not _conditional(policy):
            statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def referenced_resources(value: Any) -> set[str] | None:
    """The logical ids a Resource value refers to, or None if it refers to anything else
    (a literal ARN, a wildcard, a parameter, another intrinsic function)."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((function, argument),) = value.items()
    if function in ("GetAtt", "Fn::GetAtt"):
        logical_id = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
        return {logical_id}
    if function in ("Ref", "Fn::Ref"):
        return {str(argument)}
    if function in ("Sub", "Fn::Sub") and isinstance(argument, str):
        # the string must start at one of our resources: "${BinsTable.Arn}/stream/*" is
        # scoped to that table, "arn:aws:dynamodb:*:*:table/*" is not
        names = {ref.split(".")[0] for ref in re.findall(r"\$\{([^}]+)\}", argument)}
        if not names or not argument.startswith("${"):
            return None
        return names
    return None


ALL_STATEMENTS = [
    pytest.param(name, index, statement, id=f"{name}-{statement.get('Sid', index)}")
    for name, function in sorted(FUNCTIONS.items())
    for index, statement in enumerate(_statements(function))
]


def test_every_function_has_an_inline_policy() -> None:
    for name, function in FUNCTIONS.items():
        assert _statements(function), name


@pytest.mark.parametrize(("function", "index", "statement"), ALL_STATEMENTS)
def test_no_statement_grants_a_wildcard_action(function: str, index: int, statement: dict[str, Any]) -> None:
    assert statement.get("Effect") == "Allow"
    assert "NotAction" not in statement
    assert "NotResource" not in statement
    for action in _as_list(statement["Action"]):
        assert isinstance(action, str), action
        service, _, operation = action.partition(":")
        assert action != "*", action
        assert operation, action
        assert "*" not in operation, action
        assert service in {"dynamodb", "sqs", "s3"}, action


@pytest.mark.parametrize(("function", "index", "statement"), ALL_STATEMENTS)
def test_every_resource_is_one_of_our_own(function: str, index: int, statement: dict[str, Any]) -> None:
    for resource in _as_list(statement["Resource"]):
        names = referenced_resources(resource)
        assert names is not None, resource
        assert names <= OWN, resource
        for name in names:
            assert name in RESOURCES, name


def test_functions_use_explicit_roles_and_no_sam_policies() -> None:
    # With Policies, SAM generates the role and adds X-Ray write access whatever TracingEnabled
    # says, and AWSLambdaDynamoDBExecutionRole (every stream in the account) for the stream.
    for name, function in FUNCTIONS.items():
        assert "Policies" not in function["Properties"], name
        role = _role(function)
        assert role["ManagedPolicyArns"] == [
            {"Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
        ], name


def test_xray_write_access_only_under_the_tracing_condition() -> None:
    for name, function in FUNCTIONS.items():
        conditional = [p for p in _role(function).get("Policies", []) if _conditional(p)]
        assert len(conditional) == 1, name
        condition, policy, otherwise = conditional[0]["If"]
        assert (condition, otherwise) == ("Tracing", {"Ref": "AWS::NoValue"}), name
        actions = {a for s in policy["PolicyDocument"]["Statement"] for a in _as_list(s["Action"])}
        assert actions == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, name
        unconditional = {a for s in _statements(function) for a in _as_list(s["Action"])}
        assert not any(a.startswith("xray:") for a in unconditional), name


def _boto_operations(*modules: str) -> set[str]:
    """The DynamoDB actions the code in ``modules`` (under src/binvault/dal) calls, as IAM
    names: client methods, and the item operations inside TransactWriteItems."""
    source = "".join((ROOT / "src" / "binvault" / "dal" / module).read_text() for module in modules)
    methods = set(re.findall(r"dynamodb\(\)\.(\w+)", source))
    actions = {"dynamodb:" + "".join(part.title() for part in method.split("_")) for method in methods}
    if "dynamodb:TransactWriteItems" in actions:
        # IAM has no TransactWriteItems action: each item needs its own operation's
        actions.remove("dynamodb:TransactWriteItems")
        item_ops = set(re.findall(r'"(Put|Update|Delete|ConditionCheck)":', source))
        actions |= {f"dynamodb:{op}Item" for op in item_ops}
    return actions


def _granted_on(function: str, table: str) -> set[str]:
    return {
        a
        for s in _statements(FUNCTIONS[function])
        if s["Resource"] == {"GetAtt": f"{table}.Arn"}
        for a in _as_list(s["Action"])
    }


def test_the_api_is_granted_exactly_what_its_code_calls() -> None:
    # dal/accounts.py also holds the admin CLI's transactions (create, rotate), which run with
    # the operator's credentials: the API itself only reads keys and charges accounts
    used = _boto_operations("bins.py") | {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert _granted_on("ApiFunction", "BinsTable") == used
    assert _granted_on("ApiFunction", "BinsTable") <= used | _boto_operations("accounts.py")
    # Idempotency records: claimed and released by dal/idempotency.py, completed by a Put
    # inside the bin write's transaction
    assert _granted_on("ApiFunction", "IdempotencyTable") == _boto_operations("idempotency.py")
    assert _granted_on("ApiFunction", "IdempotencyTable") == {"dynamodb:PutItem", "dynamodb:DeleteItem"}


def test_the_purge_is_granted_exactly_what_its_code_calls() -> None:
    assert _granted_on("PurgeFunction", "BinsTable") == _boto_operations("purge.py")
    stream = {
        a
        for s in _statements(FUNCTIONS["PurgeFunction"])
        if "Stream" in json.dumps(s["Resource"]) or "stream" in json.dumps(s["Resource"])
        for a in _as_list(s["Action"])
    }
    assert stream == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    }


def test_the_api_cannot_scan_or_batch() -> None:
    # The request path reads and writes single items, and pages through one partition with a
    # Query (a bin's versions, a listing); scanning or batch-deleting a table is the purge's business
    actions = {a for s in _statements(FUNCTIONS["ApiFunction"]) for a in _as_list(s["Action"])}
    assert not actions & {"dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:DeleteTable"}
    queried = {str(s["Resource"]) for s in _statements(FUNCTIONS["ApiFunction"]) if "dynamodb:Query" in s["Action"]}
    assert queried == {str({"GetAtt": "BinsTable.Arn"})}
    # every Query of the request path names one partition (pk = :pk), never a whole table
    for module in ("bins.py", "listing.py"):
        source = (ROOT / "src" / "binvault" / "dal" / module).read_text()
        assert 1 <= source.count("dynamodb().query") <= source.count('"pk = :pk')


def test_the_purge_cannot_write_records() -> None:
    actions = {a for s in _statements(FUNCTIONS["PurgeFunction"]) for a in _as_list(s["Action"])}
    assert not actions & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:TransactWriteItems"}


# ---- the purge's stream: filtered, partial failures, a dead-letter queue --------------------


def _stream_events() -> list[dict[str, Any]]:
    events = FUNCTIONS["PurgeFunction"]["Properties"]["Events"]
    return [e["Properties"] for e in events.values() if e["Type"] == "DynamoDB"]


def test_purge_stream_event_is_filtered_reports_partial_failures_and_dead_letters() -> None:
    (stream,) = _stream_events()
    assert referenced_resources(stream["Stream"]) == {"BinsTable"}
    assert "StreamArn" in json.dumps(stream["Stream"])
    filters = stream["FilterCriteria"]["Filters"]
    assert filters
    assert all(json.loads(f["Pattern"]) for f in filters)
    assert "ReportBatchItemFailures" in stream["FunctionResponseTypes"]
    on_failure = stream["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    assert referenced_resources(on_failure["Destination"]) == {"PurgeDeadLetterQueue"}
    assert RESOURCES["PurgeDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"
    # a poison record is retried a bounded number of times and bisected, never forever
    assert 0 < int(stream["MaximumRetryAttempts"]) <= 10_000
    assert stream.get("BisectBatchOnFunctionError") is True


def _matches(pattern: Any, value: Any) -> bool:
    """The subset of Lambda event filtering the template uses: nested objects, lists of
    allowed values and ``{"exists": bool}``."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for key, sub in pattern.items():
            if isinstance(sub, list) and sub and isinstance(sub[0], dict) and "exists" in sub[0]:
                if (key in value) != sub[0]["exists"]:
                    return False
            elif key not in value or not _matches(sub, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


def _record(event: str, sk: str, new_image: dict[str, Any] | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {"Keys": {"pk": {"S": "BIN#0123456789abcdef01234567"}, "sk": {"S": sk}}}
    if new_image is not None:
        change["NewImage"] = new_image
    return {"eventName": event, "dynamodb": change}


STREAM_RECORDS = [
    pytest.param(_record("MODIFY", "BIN", {"purgeBelow": {"N": "3"}}), True, id="cut-over"),
    pytest.param(_record("REMOVE", "BIN"), True, id="bin-deleted"),
    pytest.param(_record("MODIFY", "BIN", {"rev": {"N": "4"}}), False, id="plain-update"),
    pytest.param(_record("INSERT", "BIN", {"rev": {"N": "1"}}), False, id="bin-created"),
    pytest.param(_record("INSERT", "V#0000000000#000001", {}), False, id="version-added"),
    pytest.param(_record("REMOVE", "V#0000000000#000001"), False, id="version-purged"),
]


@pytest.mark.parametrize(("record", "wanted"), STREAM_RECORDS)
def test_stream_filter_and_purge_target_agree(record: dict[str, Any], wanted: bool) -> None:
    """The local poller applies ``purge_target``; AWS applies the template's filter. They
    must wake the purge for exactly the same records."""
    from binvault.handlers.purge import purge_target

    (stream,) = _stream_events()
    patterns = [json.loads(f["Pattern"]) for f in stream["FilterCriteria"]["Filters"]]
    assert any(_matches(p, record) for p in patterns) is wanted
    assert (purge_target(record) is not None) is wanted


# ---- runtime ---------------------------------------------------------------------------


def test_globals_pin_the_runtime_and_architecture() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    for name, function in FUNCTIONS.items():
        assert "Runtime" not in function["Properties"], name
        assert "Architectures" not in function["Properties"], name


def test_functions_read_the_tables_they_are_allowed_to_touch() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == {"Ref": "BinsTable"}
    assert variables["IDEMPOTENCY_TABLE_NAME"] == {"Ref": "IdempotencyTable"}


def test_timeouts_fit_api_gateway() -> None:
    # API Gateway gives up after 29 s; a function that runs longer answers nobody
    api_timeout = FUNCTIONS["ApiFunction"]["Properties"].get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])
    assert int(api_timeout) < 29


# ---- usage logs: the subscription, the bucket prefixes, the failure path --------------------


def _s3_grants(function: str) -> dict[str, set[str]]:
    """S3 action -> the resources (as JSON) the function's role grants it on."""
    grants: dict[str, set[str]] = {}
    for statement in _statements(FUNCTIONS[function]):
        for action in _as_list(statement["Action"]):
            if action.startswith("s3:"):
                grants.setdefault(action, set()).add(json.dumps(statement["Resource"]))
    return grants


def test_the_usage_logs_function_only_writes_log_objects() -> None:
    assert _s3_grants("UsageLogsFunction") == {"s3:PutObject": {json.dumps({"Sub": "${RecordsBucket.Arn}/logs/*"})}}
    actions = {a for s in _statements(FUNCTIONS["UsageLogsFunction"]) for a in _as_list(s["Action"])}
    assert actions == {"s3:PutObject", "sqs:SendMessage"}


def test_the_api_reads_usage_logs_and_lists_only_their_prefix() -> None:
    grants = _s3_grants("ApiFunction")
    assert grants["s3:GetObject"] == {
        json.dumps({"Sub": "${RecordsBucket.Arn}/b/*"}),
        json.dumps({"Sub": "${RecordsBucket.Arn}/logs/*"}),
        json.dumps({"Sub": "${RecordsBucket.Arn}/exports/*"}),
    }
    # the API never writes a log object (only the too-big exports), nor deletes anything
    assert grants["s3:PutObject"] == {
        json.dumps({"Sub": "${RecordsBucket.Arn}/b/*"}),
        json.dumps({"Sub": "${RecordsBucket.Arn}/exports/*"}),
    }
    assert "s3:DeleteObject" not in grants
    (listing,) = [s for s in _statements(FUNCTIONS["ApiFunction"]) if "s3:ListBucket" in _as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["logs/*"]}}


def test_the_api_log_group_feeds_the_usage_logs_function_only_usage_lines() -> None:
    from binvault.logic import usage_logs

    events = FUNCTIONS["UsageLogsFunction"]["Properties"]["Events"]
    (subscription,) = [e["Properties"] for e in events.values() if e["Type"] == "CloudWatchLogs"]
    assert subscription["LogGroupName"] == {"Ref": "ApiFunctionLogGroup"}
    # the pattern selects what handlers/api.py's usage logger writes, as usage_of does
    pattern = subscription["FilterPattern"]
    assert f'$.message = "{usage_logs.USAGE_MESSAGE}"' in pattern
    assert f'$.service = "{usage_logs.USAGE_SERVICE}"' in pattern
    from binvault.handlers import api

    assert api.usage_log.service == usage_logs.USAGE_SERVICE


def test_a_failing_usage_log_batch_is_retried_then_dead_lettered_and_alarmed() -> None:
    config = FUNCTIONS["UsageLogsFunction"]["Properties"]["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2
    on_failure = config["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    assert referenced_resources(on_failure["Destination"]) == {"UsageLogsDeadLetterQueue"}
    alarmed = {
        json.dumps(r["Properties"]["Dimensions"]) for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert any("UsageLogsDeadLetterQueue" in dimensions for dimensions in alarmed)
    assert any("UsageLogsFunction" in dimensions for dimensions in alarmed)


def test_usage_logs_expire_by_a_lifecycle_rule_on_their_prefix() -> None:
    assert TEMPLATE["Parameters"]["UsageLogRetentionDays"]["Default"] == 30
    rules = {r["Id"]: r for r in RESOURCES["RecordsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["UsageLogRetention"]["Prefix"] == "logs/"
    assert rules["UsageLogRetention"]["ExpirationInDays"] == {"Ref": "UsageLogRetentionDays"}
    assert rules["UsageLogExports"]["Prefix"] == "exports/"
    assert rules["UsageLogExports"]["ExpirationInDays"] == 1
