"""`make package`: `outpost doctor` on the status file, then chalice's SAM template merged with
infra/ into build/, then cfn-lint on everything.

    python -m infra.package [STAGE] [--out DIR]

Needs no AWS credentials; chalice only wants a region name to render ARNs. A stage named
"checker-<region>" is one more vantage point: it merges infra/checker.yaml (no tables, the home
stage's tables by parameter) and drops the stream consumer, which belongs to the home stage.
The CloudFront web ACL (infra/waf.yaml) is copied to DIR and linted for us-east-1, the only
region CloudFront takes web ACLs from.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
WAF_REGION = "us-east-1"


def merge_template(stage: str) -> str:
    """A checker-only stage ("checker-<region>") adds a vantage point and no tables."""
    return "checker.yaml" if stage.startswith("checker-") else "resources.yaml"


def run_doctor(stage: str, env) -> int:
    """The offsite guard, on the status file the functions will ship with. 0 ok, 1 refused."""
    sys.path.insert(0, ROOT)
    from chalicelib.tools import doctor
    path = env.get("STATUS_FILE") or os.path.join(ROOT, "chalicelib", "status.yaml")
    code, text = doctor.run(path, stage=stage, project_dir=ROOT, environ=env)
    print(text, file=sys.stderr if code else sys.stdout)
    return code


# Kicked, not fed by an event source, but the home stage's all the same: the delivery worker.
HOME_ONLY_FUNCTIONS = ("Deliver",)


def drop_stream_consumers(template_path: str) -> list[str]:
    """Remove functions fed by a DynamoDB stream or an SQS queue: a checker stage has no table
    or queue of its own and event sources can't cross regions; the home stage's consumer and
    delivery worker do the notifying."""
    import yaml
    with open(template_path) as fh:
        doc = yaml.safe_load(fh)
    resources = doc["Resources"]
    gone = [name for name, res in resources.items()
            if res.get("Type") == "AWS::Serverless::Function"
            and (name in HOME_ONLY_FUNCTIONS
                 or any(ev.get("Type") in ("DynamoDB", "SQS")
                        for ev in (res.get("Properties", {}).get("Events") or {}).values()))]
    for name in gone:
        del resources[name]
    # ...and their log groups (chalice names them "/aws/lambda/${Function}")
    for name in [k for k, res in resources.items() if res.get("Type") == "AWS::Logs::LogGroup"
                 and any(f"${{{g}}}" in repr(res) for g in gone)]:
        del resources[name]
    for name in [k for k, out in (doc.get("Outputs") or {}).items()
                 if any(g in repr(out) for g in gone)]:
        del doc["Outputs"][name]
    if gone:
        with open(template_path, "w") as fh:
            yaml.safe_dump(doc, fh, sort_keys=False)
    return gone


# Workstation-only code (the CLI, doctor) that no Lambda imports (tests/unit/test_layers.py
# checks that): chalice bundles all of chalicelib, so the package step takes it out again.
NOT_IN_LAMBDA = ("chalicelib/tools/",)


def slim_bundle(zip_path: str) -> list[str]:
    """Rewrite the deployment zip without NOT_IN_LAMBDA; returns the names dropped."""
    kept, dropped = [], []
    with zipfile.ZipFile(zip_path) as src:
        for info in src.infolist():
            (dropped if info.filename.startswith(NOT_IN_LAMBDA) else kept).append(info)
        if not dropped:
            return []
        tmp = zip_path + ".tmp"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in kept:
                dst.writestr(info, src.read(info.filename))
    os.replace(tmp, zip_path)
    return [info.filename for info in dropped]


def lint(jobs: list[tuple[str, str]], env) -> int:
    """cfn-lint each (template, region), concurrently. Its exit code is a bit field: 2 errors,
    4 warnings, 8 informational; any of them fails the package."""
    procs = [subprocess.Popen([os.path.join(BIN, "cfn-lint"), "--regions", region, "--", path],
                              cwd=ROOT, env=env) for path, region in jobs]
    codes = [p.wait() for p in procs]
    return next((code for code in codes if code), 0)


def main(argv: list[str]) -> int:
    args = list(argv)
    out = os.path.join(ROOT, "build")
    if "--out" in args:
        i = args.index("--out")
        out = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    stage = args[0] if args else os.environ.get("STAGE", "prod")
    started = time.monotonic()
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
    for leaked in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(leaked, None)
    if run_doctor(stage, env):
        print("make package: refused by `outpost doctor` (fix the status file above)",
              file=sys.stderr)
        return 1
    subprocess.run([os.path.join(BIN, "chalice"), "package", "--stage", stage,
                    "--merge-template", os.path.join(ROOT, "infra", merge_template(stage)), out],
                   cwd=ROOT, env=env, check=True)
    template = os.path.join(out, "sam.yaml")
    dropped = slim_bundle(os.path.join(out, "deployment.zip"))
    print(f"{stage}: left {len(dropped)} workstation-only files out of the Lambda bundle")
    if stage.startswith("checker-"):
        for name in drop_stream_consumers(template):
            print(f"{stage}: dropped {name} (the home stage consumes the stream)")
    waf = os.path.join(out, "waf.yaml")
    shutil.copyfile(os.path.join(ROOT, "infra", "waf.yaml"), waf)
    code = lint([(template, env["AWS_DEFAULT_REGION"]), (waf, WAF_REGION)], env)
    if code:
        print(f"cfn-lint found problems in {template} or {waf}", file=sys.stderr)
        return code
    print(f"packaged {template} (stage {stage}) and {waf} in {time.monotonic() - started:.1f}s; "
          f"cfn-lint clean")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
