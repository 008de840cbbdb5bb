"""The comparison harness: the shared MNIST pipeline, the runner, metrics and the CLI."""
