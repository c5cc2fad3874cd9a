#!/usr/bin/env python3
"""Ed448 vectors with context strings (RFC 8032's "Ed448" mode with a
non-empty context) for Sigil's `ed448` plugin, made by an independent
implementation: the PyPI package pycryptodome (`Crypto.Signature.eddsa`,
mode `rfc8032`). The first vector is RFC 8032 section 7.4's "1 octet
(with context)" example, which the package reproduces byte for byte.

    python3 ed448-context.py > ed448-context.json

For each of two keys (RFC 8032's, and the seed 0x2a repeated): valid
signatures with contexts of 1, 3 and 255 bytes, and signatures to refuse:
a context-signed signature verified without its context, with another
context, and a context-free signature verified with a context.
"""

import json

from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

RFC_SEED = bytes.fromhex(
    "c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463a"
    "fbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e")
RFC_SIGNATURE = bytes.fromhex(
    "d4f8f6131770dd46f40867d6fd5d5055de43541f8c5e35abbcd001b32a89f7d2"
    "151f7647f11d8ca2ae279fb842d607217fce6e042f6815ea000c85741de5c8da"
    "1144a6a1aba7f96de42505d7a7298524fda538fccbbb754f578c1cad10d54d0d"
    "5428407e85dcbc98a49155c13764e66c3c00")


def sign(key, message, context):
    return eddsa.new(key, "rfc8032", context=context).sign(message)


def verifies(public, message, signature, context):
    try:
        eddsa.new(public, "rfc8032", context=context).verify(message, signature)
        return True
    except ValueError:
        return False


def main():
    groups, tc = [], 0
    for seed in (RFC_SEED, bytes([0x2A]) * 57):
        key = ECC.construct(curve="Ed448", seed=seed)
        public = key.public_key()
        tests = []

        def add(comment, message, context, signature, result):
            nonlocal tc
            tc += 1
            assert verifies(public, message, signature, context) == (result == "valid")
            tests.append({"tc_id": tc, "comment": comment, "message": message.hex(),
                          "context": context.hex(), "signature": signature.hex(),
                          "result": result})

        if seed == RFC_SEED:
            assert sign(key, b"\x03", b"foo") == RFC_SIGNATURE
            add("RFC 8032 7.4, 1 octet (with context)", b"\x03", b"foo", RFC_SIGNATURE, "valid")
        message = b"Sigil verifies Ed448 with a context string."
        for context in (b"\x00", b"app", bytes(range(255))):
            add(f"{len(context)}-byte context", message, context, sign(key, message, context), "valid")
        with_context = sign(key, message, b"app")
        add("signed with a context, verified without", message, b"", with_context, "invalid")
        add("signed with a context, verified with another", message, b"apq", with_context, "invalid")
        add("signed without a context, verified with one", message, b"app", sign(key, message, b""), "invalid")
        groups.append({"public_key": public.export_key(format="raw").hex(), "tests": tests})
    print(json.dumps({"source": "pycryptodome (PyPI), ed448-context.py", "groups": groups}, indent=1))


if __name__ == "__main__":
    main()
