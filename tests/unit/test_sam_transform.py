"""The SAM transform (what CloudFormation runs on template.yaml at change-set time), offline.

``make lint`` runs scripts/sam_transform.py and cfn-lint on its output; these tests prove
that a template SAM rejects fails there, and check what only the transformed template shows.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("sam_transform", ROOT / "scripts" / "sam_transform.py")
assert _spec is not None and _spec.loader is not None
sam_transform = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sam_transform)

CORS = {
    "gatewayresponse.header.Access-Control-Allow-Origin": "'*'",
    "gatewayresponse.header.Access-Control-Expose-Headers": "'ETag, Retry-After'",
}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return dict(sam_transform.load())


@pytest.fixture(scope="module")
def transformed(source: dict[str, Any]) -> dict[str, Any]:
    return dict(sam_transform.transform(source))


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_the_template_transforms(transformed: dict[str, Any]) -> None:
    assert "Transform" not in transformed
    assert set(_of_type(transformed, "AWS::Lambda::Function")) == {"ApiFunction", "PurgeFunction", "UsageLogsFunction"}
    assert len(_of_type(transformed, "AWS::Lambda::EventSourceMapping")) == 1
    # the usage-logs function: the API log group's subscription, the permission it needs
    (subscription,) = _of_type(transformed, "AWS::Logs::SubscriptionFilter").values()
    assert subscription["Properties"]["DestinationArn"] == {"Fn::GetAtt": ["UsageLogsFunction", "Arn"]}
    assert subscription["Properties"]["LogGroupName"] == {"Ref": "ApiFunctionLogGroup"}
    permissions = [p["Properties"] for p in _of_type(transformed, "AWS::Lambda::Permission").values()]
    assert any(p["Principal"] == "logs.amazonaws.com" for p in permissions)
    (invoke_config,) = _of_type(transformed, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 2
    assert len(_of_type(transformed, "AWS::ApiGateway::Stage")) == 1


def test_the_transform_runs_offline_without_aws_in_the_environment(
    source: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert sam_transform.transform(source)["Resources"]


def test_a_property_sam_rejects_fails_the_transform(source: dict[str, Any]) -> None:
    # Given the mistake the template once shipped: ResponseHeaders instead of ResponseParameters
    broken = copy.deepcopy(source)
    throttled = broken["Resources"]["BinvaultApi"]["Properties"]["GatewayResponses"]["THROTTLED"]
    throttled["ResponseHeaders"] = throttled.pop("ResponseParameters")["Headers"]
    # When / Then
    with pytest.raises(sam_transform.TransformFailed, match="Invalid property 'ResponseHeaders'"):
        sam_transform.transform(broken)


def test_an_unknown_function_property_fails_the_transform(source: dict[str, Any]) -> None:
    broken = copy.deepcopy(source)
    properties = broken["Resources"]["ApiFunction"]["Properties"]
    properties["Handlr"] = properties.pop("Handler")
    with pytest.raises(sam_transform.TransformFailed):
        sam_transform.transform(broken)


def test_the_command_make_lint_runs_fails_on_a_broken_template(tmp_path: Path, capsys: Any) -> None:
    text = (ROOT / "template.yaml").read_text()
    assert "ResponseParameters:" in text
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace("ResponseParameters:", "ResponseHeaders:", 1))
    assert sam_transform.main([str(broken), str(tmp_path / "out.json")]) == 1
    assert "rejected" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()
    assert sam_transform.main([str(ROOT / "template.yaml"), str(tmp_path / "ok.json")]) == 0
    assert json.loads((tmp_path / "ok.json").read_text())["Resources"]


def test_every_gateway_response_carries_the_cors_headers(transformed: dict[str, Any]) -> None:
    (api,) = _of_type(transformed, "AWS::ApiGateway::RestApi").values()
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED", "REQUEST_TOO_LARGE"} <= set(responses)
    for name, response in responses.items():
        assert CORS.items() <= response["responseParameters"].items(), name
        assert "message" in response["responseTemplates"]["application/json"], name
    assert responses["THROTTLED"]["responseParameters"]["gatewayresponse.header.Retry-After"] == "'1'"


def test_no_generated_role_and_no_wide_managed_policy(transformed: dict[str, Any]) -> None:
    roles = _of_type(transformed, "AWS::IAM::Role")
    assert set(roles) == {"ApiFunctionRole", "PurgeFunctionRole", "UsageLogsFunctionRole", "ApiGatewayCloudWatchRole"}
    text = json.dumps(roles)
    assert "AWSXrayWriteOnlyAccess" not in text
    assert "AWSLambdaDynamoDBExecutionRole" not in text
    for name in ("ApiFunctionRole", "PurgeFunctionRole", "UsageLogsFunctionRole"):
        for policy in roles[name]["Properties"]["Policies"]:
            if "Fn::If" in policy:
                continue  # X-Ray, under the Tracing condition (test_template.py)
            for statement in policy["PolicyDocument"]["Statement"]:
                assert statement["Resource"] != "*", (name, statement)


def test_every_alarm_notifies_the_alarm_topic(transformed: dict[str, Any]) -> None:
    alarms = _of_type(transformed, "AWS::CloudWatch::Alarm")
    assert alarms
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [
            {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}
        ], name


def test_the_stage_writes_access_logs_to_a_retained_log_group(transformed: dict[str, Any]) -> None:
    (stage,) = _of_type(transformed, "AWS::ApiGateway::Stage").values()
    setting = stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert "$context.requestId" in setting["Format"]
    log_group = transformed["Resources"]["ApiAccessLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "AccessLogRetentionDays"}
    # REST API access logs need the account's API Gateway CloudWatch role set first
    (api,) = _of_type(transformed, "AWS::ApiGateway::RestApi").values()
    assert "ApiGatewayAccount" in json.dumps(api.get("DependsOn"))


def test_functions_declare_an_empty_dynamodb_endpoint(transformed: dict[str, Any]) -> None:
    # `sam local invoke --env-vars` can only set variables the function declares
    for name, function in _of_type(transformed, "AWS::Lambda::Function").items():
        assert function["Properties"]["Environment"]["Variables"]["AWS_ENDPOINT_URL_DYNAMODB"] == "", name
