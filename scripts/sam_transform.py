"""Run the SAM transform on template.yaml offline, as CloudFormation does at change-set time.

    python scripts/sam_transform.py [template.yaml] [build/template.transformed.json]

CloudFormation expands ``Transform: AWS::Serverless-2016-10-31`` with aws-sam-translator
(the library that SAM CLI's ``sam validate`` also runs). A property SAM does not know is
accepted by cfn-lint but rejected here, which is the first ``sam deploy`` failing. So
``make lint`` runs this, then cfn-lint on the CloudFormation it writes.

Offline: a dummy region and dummy credentials, no AWS call. Local ``CodeUri`` values are
replaced by a dummy S3 URI first, as ``sam package``/``sam validate`` do. Managed policies
named without an ARN would need IAM to resolve and are refused (the template uses inline
statements only).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
OUTPUT = ROOT / "build" / "template.transformed.json"
REGION = "us-east-1"


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !GetAtt A.B, !Sub ...) in long form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as stream:
        template: dict[str, Any] = yaml.load(stream, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    return template


def _dummy_s3(code_uri: Any) -> Any:
    if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
        return f"s3://binvault-offline-transform/{code_uri.strip('/.') or 'code'}.zip"
    return code_uri


def _as_packaged(template: dict[str, Any]) -> dict[str, Any]:
    """What ``sam package`` uploads: local code paths become S3 URIs."""
    packaged = copy.deepcopy(template)
    function_globals = packaged.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = _dummy_s3(function_globals["CodeUri"])
    for resource in packaged.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in resource.get("Properties", {}):
            resource["Properties"]["CodeUri"] = _dummy_s3(resource["Properties"]["CodeUri"])
    return packaged


class TransformFailed(Exception):
    """The SAM transform rejected the template (CloudFormation would too)."""


def transform(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation that SAM's transform makes of ``template``; raises TransformFailed."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform as sam_transform

    class OfflinePolicyLoader(ManagedPolicyLoader):
        def __init__(self) -> None:
            pass

        def load(self) -> dict[str, str]:
            raise TransformFailed("a managed policy named without its ARN needs IAM to resolve; use the ARN")

    # The translator logs its feature-toggle lookups as warnings; they are not findings.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    saved = {
        name: os.environ.get(name) for name in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    os.environ.update(
        {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "offline", "AWS_SECRET_ACCESS_KEY": "offline"}
    )
    try:
        return sam_transform(_as_packaged(template), {"AWS::Region": REGION}, OfflinePolicyLoader())
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in error.causes) or str(error)
        raise TransformFailed(causes) from error
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else TEMPLATE
    target = Path(argv[1]) if len(argv) > 1 else OUTPUT
    try:
        cloudformation = transform(load(source))
    except TransformFailed as error:
        print(f"sam transform: {source} rejected: {error}", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(cloudformation, indent=1, sort_keys=True) + "\n")
    print(f"sam transform: {source} -> {target} ({len(cloudformation['Resources'])} resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
