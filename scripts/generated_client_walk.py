#!/usr/bin/env python3
"""The README's walk-through through a client that `openapi-python-client`
generated from the server's `/openapi.json` (scripts/api-conformance makes
it): register, log in, add keys, verify, verify a batch, follow the
history's cursors, list batches, and verify again with an API token.
Every answer is parsed by the generated models, so a field the document
types wrongly (a null it does not allow, a missing required field) fails
here as it would in a program written against the document.

    generated_client_walk.py CLIENT_DIR URL
"""

import base64
import importlib
import os
import sys
import tempfile
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import openssl_key, openssl_sign  # noqa: E402


def main():
    client_dir, url = sys.argv[1], sys.argv[2]
    sys.path.insert(0, client_dir)
    sigil = importlib.import_module("sigil_client")
    models = importlib.import_module("sigil_client.models")
    op = {}
    for group, names in {
        "auth": ("register", "login", "me"),
        "keys": ("create_key",),
        "verify": ("verify_single", "verify_batch"),
        "history": ("list_verifications", "list_batches"),
        "tokens": ("create_token",),
    }.items():
        for name in names:
            op[name] = importlib.import_module(f"sigil_client.api.{group}.{name}")

    def call(name, expected, **kwargs):
        answer = op[name].sync_detailed(**kwargs)
        if answer.status_code != expected or isinstance(answer.parsed, models.Problem):
            raise SystemExit(f"{name}: {answer.status_code} {answer.content[:300]!r}")
        if answer.parsed is None:
            raise SystemExit(f"{name}: the generated client could not parse {answer.content[:300]!r}")
        return answer.parsed

    anonymous = sigil.Client(base_url=url, raise_on_unexpected_status=True)
    suffix = os.urandom(4).hex()
    username, password = f"alice-{suffix}", "correct horse battery staple"
    user = call("register", 201, client=anonymous, body=models.NewAccount.from_dict(
        {"username": username, "email": f"{username}@example.com", "password": password}))
    print(f"  registered {user.username}")
    pair = call("login", 200, client=anonymous,
                body=models.LoginRequest.from_dict({"username": username, "password": password}))
    alice = sigil.AuthenticatedClient(base_url=url, token=pair.access_token, raise_on_unexpected_status=True)
    me = call("me", 200, client=alice)
    assert me.username == username, me

    work = tempfile.mkdtemp(prefix="sigil-generated-client-")
    keys = {}
    for kind, algorithm in (("ed25519", "EdDSA"), ("p256", "ECDSA")):
        private, public = openssl_key(work, kind)
        view = call("create_key", 201, client=alice, body=models.NewKeyRequest.from_dict(
            {"key_data": public, "format": "PEM", "algorithm": algorithm, "name": f"alice {kind}"}))
        keys[kind] = (private, str(view.id))
    print(f"  added keys {sorted(keys)}")

    document, forged = b"Pay Bob 10 euros", b"Pay Bob 1000 euros"
    signatures = {kind: openssl_sign(private, kind, document, work) for kind, (private, _) in keys.items()}

    def item(kind, doc):
        return {"public_key_id": keys[kind][1], "document": base64.b64encode(doc).decode(),
                "signature": base64.b64encode(signatures[kind]).decode()}

    singles = []
    for doc, expected in ((document, True), (forged, False)):
        verified = call("verify_single", 200, client=alice, body=models.VerifyItem.from_dict(item("ed25519", doc)))
        assert verified.valid is expected, verified
        singles.append(str(verified.verification_id))
    print("  verified: the document valid, the forgery invalid")

    batch = call("verify_batch", 200, client=alice, body=models.BatchRequest.from_dict(
        {"items": [item("ed25519", document), item("p256", document), item("p256", forged)]}))
    assert [r.valid for r in batch.results] == [True, True, False], batch
    print(f"  batch {batch.batch_id}: {[r.valid for r in batch.results]}")

    seen, cursor, pages = [], None, 0
    while True:
        kwargs = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = call("list_verifications", 200, client=alice, **kwargs)
        pages += 1
        seen.extend(str(record.id) for record in page.items)
        cursor = page.next_cursor if isinstance(page.next_cursor, str) else None
        if not cursor or pages > 20:
            break
    missing = [v for v in singles if v not in seen]
    assert not missing and pages >= 2, (missing, pages, seen)
    print(f"  history: {len(seen)} records over {pages} pages, both single verifications among them")

    batches = call("list_batches", 200, client=alice)
    assert str(batch.batch_id) in [str(b.id) for b in batches.items], batches
    print("  the batch is listed")

    expires = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    created = call("create_token", 201, client=alice, body=models.NewTokenRequest.from_dict(
        {"name": "walk", "expires_at": expires, "scopes": ["verify_signatures"]}))
    assert created.token.startswith("sigil_pat_"), created.token[:10]
    machine = sigil.AuthenticatedClient(base_url=url, token=created.token, raise_on_unexpected_status=True)
    verified = call("verify_single", 200, client=machine, body=models.VerifyItem.from_dict(item("p256", document)))
    assert verified.valid is True, verified
    print("  an API token with verify_signatures verified through the generated client")
    print("generated client walk: PASS")


if __name__ == "__main__":
    main()
