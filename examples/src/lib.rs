//! Example programs of the dynamo-runtime metrics API; see `examples/README.md`.
