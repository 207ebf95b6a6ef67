//! The plan language: the YAML model with spans, parsing, validation and diagnostics.
