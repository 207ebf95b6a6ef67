//! The sandbox: a local HTTP emulator of the S3 Control job API. Imports nothing from `api/` or `plan/`.
