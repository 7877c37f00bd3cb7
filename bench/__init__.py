"""`make bench`: the performance targets of DESIGN.md, measured in-process, offline.

Nothing here reaches AWS or the network: DynamoDB is moto's `mock_aws()` and every HTTP target
is a local server on 127.0.0.1. Every number is compared with a baseline measured in the same run.
"""
