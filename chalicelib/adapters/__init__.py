"""Adapters: the I/O at the edges (DynamoDB through PynamoDB, SNS, SQS, S3, the probes and
outbound HTTP). They never import the use-cases or the web layer."""
