#!/usr/bin/env python3
"""Make slh-dsa-pure.json: known-answer vectors for pure SLH-DSA (FIPS 205),
for the four parameter sets the slh-dsa plugin serves (SLH-DSA-SHA2-128s,
-SHA2-128f, -SHAKE-128s, -SHAKE-128f), with the empty context unless a
vector names one (`context`, hex; contract 0.2.0 carries it).

No published vector set fits Sigil's contract (pure mode, keys as SPKI)
in a form a crate carries, so these are made by an
implementation independent of the plugin's RustCrypto `slh-dsa`: the pure
Python PyPI package `slh-dsa` (imported as `slhdsa`; 0.2.5 made the
committed file, `pip install slh-dsa==0.2.5`). Its SubjectPublicKeyInfo
encoder writes the keys' SPKI, so the object identifiers (RFC 9814) come
from it too, not from the plugin.

Per parameter set, one key and nine vectors:
  valid    the empty message; a short document; the document signed and
           verified with the context string "sigil";
  invalid  a bit flipped in the randomizer R (the signature's first byte);
           a bit flipped in the last byte (the top layer's authentication
           path); the signature one byte short (wrong length); a signature
           by another key of the same set (wrong key); the signature made
           with the context "sigil" verified with the empty context, and
           with the context "sigim".
And one group whose key is wrong: an SPKI naming SLH-DSA-SHA2-128s with a
31-byte key, which must be refused at parse-key (or answer invalid).

Keys come from fixed seeds (SHAKE-256 of a label) and signing is FIPS
205's deterministic variant (opt_rand = PK.seed), so running this again
gives the same file byte for byte. Every vector is checked against the
package's own verify_pure first. Signing the `s` sets in pure Python takes
a few seconds a signature; the whole run about a minute.

    python3 host/src/plugins/vectors/slh-dsa-pure.py > host/src/plugins/vectors/slh-dsa-pure.json
"""
import hashlib
import json
import sys
from importlib.metadata import version

import slhdsa
import slhdsa.asn
import slhdsa.slhdsa
from slhdsa.lowlevel.addresses import Address
from slhdsa.lowlevel.xmss import XMSS

# (FIPS 205 name, the package's parameter set)
SETS = [
    ("SLH-DSA-SHA2-128s", slhdsa.sha2_128s),
    ("SLH-DSA-SHA2-128f", slhdsa.sha2_128f),
    ("SLH-DSA-SHAKE-128s", slhdsa.shake_128s),
    ("SLH-DSA-SHAKE-128f", slhdsa.shake_128f),
]
DOCUMENT = b"Sigil SLH-DSA known answer: pay Bob 10 euros"
CONTEXT = b"sigil"


def seeded_keypair(par, label: str) -> slhdsa.KeyPair:
    """A key pair from fixed seeds, computed as the package's keygen does
    (lowlevel.slhdsa.keygen draws the same three seeds at random)."""
    stream = hashlib.shake_256(f"sigil slh-dsa vectors: {label}".encode()).digest(3 * par.n)
    sk_seed, sk_prf, pk_seed = (stream[i * par.n:(i + 1) * par.n] for i in range(3))
    pk_root = XMSS(par).node(sk_seed, 0, par.h_m, pk_seed, Address(par.d - 1, 0))
    secret = slhdsa.SecretKey((sk_seed, sk_prf, pk_seed, pk_root), par)
    return secret.keypair


def spki(par, raw: bytes) -> bytes:
    """The package's SubjectPublicKeyInfo: its OID for the set, no
    parameters, the raw key as the BIT STRING."""
    return slhdsa.slhdsa.PublicKeyInfo(
        algorithm=slhdsa.slhdsa.AlgorithmIdentifier(oid=slhdsa.asn.ObjectIdentifier(par.objectid)),
        public_key=slhdsa.asn.BitString(raw),
    ).dumps()


def flip(signature: bytes, index: int) -> bytes:
    tampered = bytearray(signature)
    tampered[index] ^= 0x01
    return bytes(tampered)


def main() -> None:
    tc_id = 0
    groups = []

    def test(comment, message, signature, valid, key, ctx=b""):
        nonlocal tc_id
        tc_id += 1
        answered = key.verify_pure(message, signature, ctx=ctx)
        assert answered == valid, f"tcId {tc_id} ({comment}): slh-dsa answered {answered}"
        vector = {
            "tc_id": tc_id,
            "comment": comment,
            "message": message.hex(),
            "signature": signature.hex(),
            "result": "valid" if valid else "invalid",
        }
        if ctx:
            vector["context"] = ctx.hex()
        return vector

    first_signature = None
    for name, par in SETS:
        key = seeded_keypair(par, name)
        other = seeded_keypair(par, name + " (another key)")
        print(f"{name}: signing", file=sys.stderr)
        empty = key.sign_pure(b"")
        signed = key.sign_pure(DOCUMENT)
        by_other = other.sign_pure(DOCUMENT)
        with_context = key.sign_pure(DOCUMENT, ctx=CONTEXT)
        raw = key.pub.digest()
        tests = [
            test("valid: the empty message", b"", empty, True, key),
            test("valid: a short document", DOCUMENT, signed, True, key),
            test("invalid: a bit flipped in the randomizer R", DOCUMENT, flip(signed, 0), False, key),
            test("invalid: a bit flipped in the last byte (top layer's authentication path)",
                 DOCUMENT, flip(signed, len(signed) - 1), False, key),
            test("invalid: wrong length (one byte short)", DOCUMENT, signed[:-1], False, key),
            test("invalid: wrong key (signed by another key of the same set)",
                 DOCUMENT, by_other, False, key),
            test("invalid: signed with the context string \"sigil\", verified with the empty context",
                 DOCUMENT, with_context, False, key),
            test("valid: signed and verified with the context string \"sigil\"",
                 DOCUMENT, with_context, True, key, CONTEXT),
            test("invalid: signed with the context string \"sigil\", verified with \"sigim\"",
                 DOCUMENT, with_context, False, key, b"sigim"),
        ]
        groups.append({
            "parameter_set": name,
            "oid": ".".join(map(str, par.objectid)),
            "public_key": raw.hex(),
            "spki": spki(par, raw).hex(),
            "tests": tests,
        })
        if first_signature is None:
            first_signature = (name, par, signed)

    # A wrong key: 31 bytes where the set's key is 32. The package refuses
    # such a key itself; the vector carries a genuine signature.
    name, par, signed = first_signature
    tc_id += 1
    groups.append({
        "parameter_set": name,
        "oid": ".".join(map(str, par.objectid)),
        "public_key": seeded_keypair(par, name).pub.digest()[:31].hex(),
        "spki": spki(par, seeded_keypair(par, name).pub.digest()[:31]).hex(),
        "comment": "wrong key: 31 bytes, not 32; must be refused at parse-key or answer invalid",
        "tests": [{
            "tc_id": tc_id,
            "comment": "invalid: wrong key length (31 bytes)",
            "message": DOCUMENT.hex(),
            "signature": signed.hex(),
            "result": "invalid",
        }],
    })

    out = {
        "algorithm": "SLH-DSA",
        "mode": "pure (FIPS 205 slh_sign), the empty context unless a vector names one (hex), deterministic signing (opt_rand = PK.seed)",
        "generated_by": f"slh-dsa {version('slh-dsa')} (PyPI, pure Python) through host/src/plugins/vectors/slh-dsa-pure.py",
        "number_of_tests": tc_id,
        "groups": groups,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
