"""One module per `mnist-compare` subcommand: `configure(parser)` and `run(args) -> int`."""
