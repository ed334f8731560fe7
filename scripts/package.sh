#!/usr/bin/env bash
# `make package`: the deployable Lambda artifact for python3.13 on arm64 (template.yaml's
# Globals), built without Docker, then proven importable.
#
#   build/package/   src/binvault + src/requirements.txt installed for manylinux2014/2_28 aarch64 / cp313
#   build/binvault.zip   the same, zipped reproducibly (sorted entries, fixed timestamps)
#
# pip only takes wheels built for the target (--only-binary=:all:), so nothing is compiled
# for this machine by mistake. The import check runs this machine's Python without
# site-packages against build/package alone: the pure-Python code the handlers need must
# import from the artifact (a compiled extension built for aarch64 cannot load here; the
# ones are wrapt's, which has a pure-Python fallback, and jsonschema-rs's, which is imported
# only when a schema doc is checked or validates a bin: never by this check).
#
# manylinux_2_28 wheels are taken too (jsonschema-rs ships its aarch64 wheel only as that):
# the python3.13 runtime is Amazon Linux 2023, glibc 2.34.
#
# The AWS SDK is not bundled: the python3.13 runtime provides boto3 and botocore (and their
# urllib3, dateutil, six), and src/requirements.txt relies on that. pip still pulls botocore
# in for aws-xray-sdk; a bundled botocore would shadow the runtime's and pair it with a
# boto3 of another release, so it is removed again (RUNTIME_PROVIDED). That is also ~15 MB
# less to download on a cold start.
#
# Everything is compiled to bytecode for python3.13 (the runtime's version), with
# unchecked-hash .pyc files: /var/task is read-only, so without them Python compiles every
# module of the artifact again on every cold start (it cannot cache the result), and an
# unchecked pyc is loaded without even reading its source. The files are reproducible (a
# source hash instead of a timestamp) and name /var/task/... as their source, where Lambda
# unpacks the artifact. Without a python3.13 on this machine (PY313 or pyenv's) the artifact
# is built without them, with a warning.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3
BUILD=build
PACKAGE="$BUILD/package"
ZIP="$BUILD/binvault.zip"
RUNTIME_PROVIDED=(boto3 botocore s3transfer urllib3 dateutil python_dateutil six)

rm -rf "$PACKAGE" "$ZIP"
mkdir -p "$PACKAGE"

echo "package: installing src/requirements.txt for python3.13 / manylinux2014 or manylinux_2_28 aarch64"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
    --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 --python-version 3.13 --implementation cp --abi cp313 \
    --only-binary=:all: --no-warn-conflicts --target "$PACKAGE" -r src/requirements.txt

echo "package: leaving out what the Lambda runtime provides: ${RUNTIME_PROVIDED[*]}"
for name in "${RUNTIME_PROVIDED[@]}"; do
    rm -rf "$PACKAGE/$name" "$PACKAGE/$name.py" "$PACKAGE/$name"-*.dist-info
done

echo "package: copying src/binvault"
"$PYTHON" - "$PACKAGE" <<'PY'
import shutil
import sys

shutil.copytree("src/binvault", f"{sys.argv[1]}/binvault", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
PY

PY313="${PY313:-}"
if [[ -z "$PY313" ]]; then
    for candidate in "$HOME"/.pyenv/versions/3.13*/bin/python3.13 "$(command -v python3.13 || true)"; do
        # a pyenv shim exists even where it cannot run the version
        if [[ -n "$candidate" && -x "$candidate" ]] && "$candidate" -I -S -c pass 2>/dev/null; then
            PY313="$candidate"
            break
        fi
    done
fi
if [[ -n "$PY313" ]]; then
    echo "package: compiling to python3.13 bytecode (unchecked-hash) with $PY313"
    "$PY313" -I -m compileall -q -f --invalidation-mode unchecked-hash -s "$PACKAGE" -p /var/task "$PACKAGE" >/dev/null
else
    echo "package: WARNING: no python3.13 here: the artifact has no bytecode, Lambda compiles it on every cold start" >&2
fi

echo "package: zipping $ZIP"
"$PYTHON" - "$PACKAGE" "$ZIP" <<'PY'
import os
import sys
import zipfile
from pathlib import Path

root, target = Path(sys.argv[1]), sys.argv[2]
files = sorted(p for p in root.rglob("*") if p.is_file())
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
    for path in files:
        info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes())
print(f"package: {len(files)} files, {os.path.getsize(target) / 1e6:.1f} MB zipped")
PY

echo "package: checking that template.yaml's handlers import from the artifact"
HANDLERS=$("$PYTHON" - <<'PY'
from binvault.local.template_tables import load_template

resources = load_template()["Resources"]
print(" ".join(r["Properties"]["Handler"] for r in resources.values() if r["Type"] == "AWS::Serverless::Function"))
PY
)
# -S: no site-packages, so nothing outside the artifact (and the standard library) is found.
# -B: write no __pycache__ into build/package (it is zipped already, and must stay clean).
env -i PATH="$PATH" HOME="${HOME:-/tmp}" TABLE_NAME=binvault-package-check \
    AWS_DEFAULT_REGION=us-east-1 POWERTOOLS_TRACE_DISABLED=true POWERTOOLS_METRICS_NAMESPACE=binvault \
    POWERTOOLS_LOG_LEVEL=WARNING \
    "$PYTHON" -S -B - "$PACKAGE" $HANDLERS <<'PY'
import importlib
import json
import os
import sys

package, handlers = os.path.abspath(sys.argv[1]), sys.argv[2:]
sys.path.insert(0, package)
assert handlers, "template.yaml declares no function"
for handler in handlers:
    module_name, _, function = handler.rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, function)), handler
    assert module.__file__.startswith(package), f"{module_name} came from {module.__file__}"
    print(f"package: {handler} imports from {package}")

# One request through the API handler, served from the artifact (needs no database).
from binvault.handlers.api import lambda_handler
from binvault.local.events import LocalContext, rest_event

reply = lambda_handler(rest_event("GET", "/b/not-a-bin-id"), LocalContext())
assert (reply["statusCode"], json.loads(reply["body"])) == (400, {"message": "Invalid Bin Id provided"}), reply
leaked = sorted(name for name in sys.modules if name.split(".")[0] in {"pydantic", "boto3", "botocore"})
assert not leaked, f"the request path imported {leaked}"
print("package: a request through the packaged API handler answered 400 Invalid Bin Id provided")
PY
echo "package: done -> $ZIP"
