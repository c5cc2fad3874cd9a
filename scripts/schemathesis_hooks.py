"""Schemathesis hooks for Sigil (loaded by scripts/schemathesis through
SCHEMATHESIS_HOOKS): plugin uploads are `application/wasm`, which
Schemathesis sends as the bytes it generates, as it does octet streams.
Random bytes are never an admissible component, so the upload's
refusals are listed in scripts/schemathesis.toml."""

import schemathesis

schemathesis.serializer.alias("application/wasm", "application/octet-stream")
