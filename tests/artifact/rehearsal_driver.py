"""Runs INSIDE the Lambda-runtime rehearsal (tests/artifact/test_rehearsal.py): a clean
interpreter started with -I -S, whose only paths are the standard library, the artifact
(build/package) and an SDK directory laid out as the python3.13 runtime provides it.

Drives every route through the packaged API handler, an Idempotency-Key replay, and the
packaged purge handler, against the DynamoDB endpoint in AWS_ENDPOINT_URL_DYNAMODB; then
checks that every module loaded came from those three places. Prints one JSON line.
"""

import json
import os
import sys
import sysconfig

ARTIFACT, SDK = sys.argv[1], sys.argv[2]
sys.path[:0] = [ARTIFACT, SDK]  # the runtime puts the task root first, then its own SDK

from binvault import admin  # noqa: E402
from binvault.dal import keys  # noqa: E402
from binvault.dal.client import dynamodb  # noqa: E402
from binvault.handlers import api, purge  # noqa: E402
from binvault.local.events import LocalContext, rest_event  # noqa: E402

checks = []


def check(name, condition, detail=""):
    checks.append(name)
    if not condition:
        raise SystemExit(f"rehearsal: {name} failed: {detail}")


def call(method, path, key, body=None, headers=()):
    pairs = list(headers)
    if key:
        pairs.append(("X-Master-Key", key))
    if body is not None:
        pairs.append(("Content-Type", "application/json"))
        body = json.dumps(body)
    reply = api.lambda_handler(rest_event(method, path, pairs, body), LocalContext())
    out = {k.lower(): v for k, v in (reply.get("headers") or {}).items()}
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        out[name.lower()] = ", ".join(values)
    text = reply.get("body") or ""
    return reply["statusCode"], out, (json.loads(text) if text else None)


key = admin.create_account(1000)["masterKey"]

# create, versioned updates, every read
status, headers, body = call("POST", "/b", key, {"n": 0}, [("X-Bin-Name", "rehearsal")])
check("create", status == 200 and body["record"] == {"n": 0}, body)
bin_id = body["metadata"]["id"]
for n in (1, 2):
    status, headers, body = call("PUT", f"/b/{bin_id}", key, {"n": n}, [("X-Bin-Versioning", "true")])
    check(f"versioned update {n}", status == 200 and body["metadata"]["version"] == n, body)
etag = headers["etag"]
check("read base", call("GET", f"/b/{bin_id}", key)[2]["record"] == {"n": 0})
check("read latest", call("GET", f"/b/{bin_id}/latest", key)[2]["metadata"]["version"] == 2)
check("read version 1", call("GET", f"/b/{bin_id}/1", key)[2]["record"] == {"n": 1})
check("bare record", call("GET", f"/b/{bin_id}/2", key, headers=[("X-Bin-Meta", "false")])[2] == {"n": 2})
check("count", call("GET", f"/b/{bin_id}/versions/count", key)[2]["metadata"]["versionCount"] == 2)

# issue 14: X-JSON-Path (jsonpath-ng from the package), an access key, a meta route
status, _, body = call("GET", f"/b/{bin_id}/1", key, headers=[("X-JSON-Path", "$..n"), ("X-Bin-Meta", "false")])
check("json path", (status, body) == (200, [1]), body)
status, _, made = call("POST", "/a", key, {"bins": {"read": True}}, [("X-Key-Name", "rehearsal")])
check("access key created", status == 200, made)
reader = [("X-Access-Key", made["accessKey"])]
check("access key reads", call("GET", f"/b/{bin_id}", None, headers=reader)[2]["record"] == {"n": 0})
check("access key may not write", call("PUT", f"/b/{bin_id}", None, {"n": 9}, reader)[0] == 403)
check("renamed", call("PUT", f"/b/{bin_id}/meta/name", key, headers=[("X-Bin-Name", "renamed")])[0] == 200)
check("access key deleted", call("DELETE", f"/a/{made['accessKeyId']}", key)[0] == 200)
check("deleted key refused", call("GET", f"/b/{bin_id}", None, headers=reader)[0] == 401)
etag = call("GET", f"/b/{bin_id}", key)[1]["etag"]

# If-Match: stale -> 412; current -> 200
status, _, body = call("PUT", f"/b/{bin_id}", key, {"n": 9}, [("If-Match", '"stale"')])
check("stale If-Match", status == 412, body)
status, headers, _ = call("PUT", f"/b/{bin_id}", key, {"n": 3}, [("If-Match", etag), ("X-Bin-Versioning", "true")])
check("current If-Match", status == 200, headers)

# Idempotency-Key: the retry replays the first response and adds nothing
replay = [("X-Bin-Versioning", "true"), ("Idempotency-Key", "rehearsal-1")]
first = call("PUT", f"/b/{bin_id}", key, {"n": 4}, replay)
second = call("PUT", f"/b/{bin_id}", key, {"n": 4}, replay)
check("idempotent first", first[0] == 200 and first[2]["metadata"]["version"] == 4, first)
check("idempotent replay", second[0] == 200 and second[2] == first[2] and second[1]["etag"] == first[1]["etag"], second)
check("replay added nothing", call("GET", f"/b/{bin_id}/versions/count", key)[2]["metadata"]["versionCount"] == 4)
reused = call("PUT", f"/b/{bin_id}", key, {"n": 5}, replay)
check("key reused with another body", reused[0] == 422, reused)

# errors
check("unknown route", call("GET", "/nope", key)[:3:2] == (404, {"message": "Route not found"}))
check("bad id", call("GET", "/b/xyz", key)[2] == {"message": "Invalid Bin Id provided"})
check("no key", call("GET", f"/b/{bin_id}", None)[0] == 401)
status, headers, _ = call("OPTIONS", f"/b/{bin_id}", None, headers=[("Origin", "https://app.example")])
check("CORS preflight", headers.get("access-control-allow-origin") == "*", headers)

# delete versions (preserve latest), then the purge handler removes the old generation
status, _, body = call("DELETE", f"/b/{bin_id}/versions", key, headers=[("X-Preserve-Latest", "true")])
check("delete versions", status == 200 and body["metadata"]["versionsDeleted"] == 4, body)
check("latest preserved", call("GET", f"/b/{bin_id}", key)[2]["record"] == {"n": 4})
check("version gone", call("GET", f"/b/{bin_id}/1", key)[0] == 404)


def version_items():
    page = dynamodb().query(
        TableName=os.environ["TABLE_NAME"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
        ExpressionAttributeValues={":pk": {"S": keys.bin_pk(bin_id)}, ":v": {"S": keys.VERSION_PREFIX}},
        ConsistentRead=True,
    )
    return page["Items"]


def stream_event(event_name, new_image=None):
    change = {"Keys": keys.bin_key(bin_id), "SequenceNumber": "1", "StreamViewType": "NEW_IMAGE"}
    if new_image is not None:
        change["NewImage"] = new_image
    return {
        "Records": [
            {
                "eventID": "1",
                "eventName": event_name,
                "eventSource": "aws:dynamodb",
                "dynamodb": change,
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/binvault/stream/1",
            }
        ]
    }


check("orphans before purge", len(version_items()) == 4, version_items())
result = purge.lambda_handler(stream_event("MODIFY", {"purgeBelow": {"N": "1"}}), LocalContext())
check("purge cut-over", result == {"batchItemFailures": []} and version_items() == [], result)
call("PUT", f"/b/{bin_id}", key, {"n": 5}, [("X-Bin-Versioning", "true")])
status, _, body = call("DELETE", f"/b/{bin_id}", key)
check("delete bin", status == 200 and body["message"] == "Bin deleted successfully", body)
result = purge.lambda_handler(stream_event("REMOVE"), LocalContext())
check("purge deleted bin", result == {"batchItemFailures": []} and version_items() == [], result)


# issue 16: a large record lives in S3 (the runtime's botocore, the artifact's dal/blobs),
# reads back the same, and the purge of the deleted bin leaves no object behind
def objects():
    from binvault.dal import blobs

    return [name for name, _ in blobs.listing(keys.BLOB_PREFIX)]


large = {"rows": [os.urandom(300).hex() for _ in range(1000)]}  # ~600 KB, ~2x compressible: S3
status, _, body = call("POST", "/b", key, large)
check("large create", status == 200, body)
bin_id = body["metadata"]["id"]
status, _, body = call("PUT", f"/b/{bin_id}", key, {**large, "v": 1}, [("X-Bin-Versioning", "true")])
check("large versioned update", status == 200 and body["metadata"]["version"] == 1, body)
check("large read base", call("GET", f"/b/{bin_id}", key)[2]["record"] == large)
check("large read version", call("GET", f"/b/{bin_id}/1", key)[2]["record"] == {**large, "v": 1})
check("large records in S3", len(objects()) == 2, objects())
check("large delete", call("DELETE", f"/b/{bin_id}", key)[0] == 200)
result = purge.lambda_handler(stream_event("REMOVE"), LocalContext())
check("purge removes the objects", result == {"batchItemFailures": []} and objects() == [], (result, objects()))

# issue 24: the packaged API's usage lines, as a CloudWatch Logs subscription delivers them,
# through the packaged usage-logs handler into S3, then GET /l and GET /l/{date}
import base64  # noqa: E402
import io  # noqa: E402
import zipfile  # noqa: E402

from binvault.handlers import usage_logs as usage_handler  # noqa: E402
from binvault.logic import usage_logs  # noqa: E402

log_output = io.StringIO()
api.usage_log.registered_handler.setStream(log_output)
status, _, body = call("POST", "/b", key, {"logged": True})
check("usage: a logged request", status == 200, body)
logged_bin = body["metadata"]["id"]
lines = [line for line in log_output.getvalue().splitlines() if usage_logs.usage_of(line)]
check("usage: one line per request", len(lines) == 1, lines)
check("usage: no key in the line", key not in lines[0], lines)
data = {"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1", "timestamp": 0, "message": lines[0]}]}
result = usage_handler.lambda_handler(usage_logs.encode_subscription_event(data), LocalContext())
check("usage: one batch written", len(result["objects"]) == 1, result)
status, _, body = call("GET", "/l", key)
check("usage: the day is listed", status == 200 and len(body["logs"]) == 1, body)
reply = api.lambda_handler(rest_event("GET", f"/l/{body['logs'][0]}", [("X-Master-Key", key)]), LocalContext())
check("usage: the day's zip", reply["statusCode"] == 200 and reply["isBase64Encoded"], reply.get("body", "")[:200])
with zipfile.ZipFile(io.BytesIO(base64.b64decode(reply["body"]))) as archive:
    day_lines = archive.read(archive.namelist()[0]).decode().splitlines()
check("usage: the request is in it", any(json.loads(line).get("binId") == logged_bin for line in day_lines), day_lines)

# Everything loaded came from the standard library, the artifact or the runtime's SDK.
stdlib = {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib")}
allowed = tuple(os.path.realpath(p) + os.sep for p in (ARTIFACT, SDK, *stdlib))
outside = sorted(
    name
    for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and module.__file__ != __file__
    and not os.path.realpath(module.__file__).startswith(allowed)
)
check("nothing imported from outside", not outside, outside)
forbidden = sorted(n for n in sys.modules if n.split(".")[0] in {"moto", "pytest", "pydantic", "yaml", "_pytest"})
check("no test-only module", not forbidden, forbidden)
sdk_modules = sorted(
    {n.split(".")[0] for n, m in sys.modules.items() if (getattr(m, "__file__", "") or "").startswith(SDK)}
)
print(json.dumps({"python": sys.version.split()[0], "checks": len(checks), "sdk_modules": sdk_modules}))
