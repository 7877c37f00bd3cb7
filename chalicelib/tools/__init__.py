"""Operator tools that run on a workstation, never in a Lambda: the `outpost` CLI and
`outpost doctor`."""
