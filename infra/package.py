"""`make package`: chalice's SAM template merged with infra/resources.yaml into build/, then cfn-lint.

Needs no AWS credentials; chalice only wants a region name to render ARNs.
"""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def merge_template(stage: str) -> str:
    """A checker-only stage ("checker-<region>") adds a vantage point and no tables."""
    return "checker.yaml" if stage.startswith("checker-") else "resources.yaml"


def main(argv: list[str]) -> int:
    stage = argv[0] if argv else os.environ.get("STAGE", "prod")
    out = os.path.join(ROOT, "build")
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
    for leaked in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(leaked, None)
    subprocess.run([os.path.join(BIN, "chalice"), "package", "--stage", stage,
                    "--merge-template", os.path.join(ROOT, "infra", merge_template(stage)), out],
                   cwd=ROOT, env=env, check=True)
    template = os.path.join(out, "sam.yaml")
    # cfn-lint's exit code is a bit field: 2 errors, 4 warnings, 8 informational. Fail on any.
    lint = subprocess.run([os.path.join(BIN, "cfn-lint"), "--regions", env["AWS_DEFAULT_REGION"],
                           "--", template], cwd=ROOT, env=env)
    if lint.returncode:
        print(f"cfn-lint found problems in {template}", file=sys.stderr)
        return lint.returncode
    print(f"packaged {template} (stage {stage}); cfn-lint clean")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
