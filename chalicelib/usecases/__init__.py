"""Use-cases: what Outpost does (run a check round, publish the page, manage incidents, fan
notifications out, deliver them). They combine the core's rules with the adapters' I/O."""
