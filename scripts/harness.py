"""What the heavy scripts (`scripts/abuse`, `scripts/bench-cost`, `scripts/soak`)
share: a release `sigil serve` on its own database, requests from chosen
loopback addresses, OpenSSL keys and signatures, and per-process CPU read
from /proc. Standard library only."""

import base64
import http.client
import json
import os
import random
import string
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
PG = os.environ.get("SIGIL_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def build_release():
    """The release binary and the plugins, unless SIGIL_SKIP_BUILD=1."""
    if os.environ.get("SIGIL_SKIP_BUILD") == "1":
        return
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "sigil"], cwd=ROOT, check=True)
    if not os.path.isdir(os.path.join(ROOT, "target/plugins/default")):
        subprocess.run([os.path.join(ROOT, "scripts/build-plugins")], check=True)


def sigil_binary():
    """The binary a Server runs: SIGIL_BIN, else the release build."""
    return os.environ.get("SIGIL_BIN") or os.path.join(TARGET, "release/sigil")


def psql(db, sql):
    out = subprocess.run(["psql", f"{PG}/{db}", "-qAtc", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Server:
    """A release `sigil serve` on a fresh database `name`, with an `admin`."""

    def __init__(self, name, port, env=None, redis_url="redis://127.0.0.1:6379"):
        self.db = name
        self.port = port
        self.admin_password = "".join(random.choices(string.ascii_letters, k=24))
        subprocess.run(["psql", f"{PG}/postgres", "-q", "-v", "ON_ERROR_STOP=1", "-f",
                        os.path.join(ROOT, "deploy/postgres/init.sql")], check=True, capture_output=True)
        psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql("postgres", f"CREATE DATABASE {name} OWNER sigil_owner")
        self.env = dict(os.environ)
        self.env.update({
            "DATABASE_URL": f"postgres://sigil_app:sigil_app@127.0.0.1:5432/{name}",
            "SIGIL_MIGRATE_DATABASE_URL": f"postgres://sigil_owner:sigil_owner@127.0.0.1:5432/{name}",
            "REDIS_URL": redis_url,
            "SIGIL_REDIS__KEY_PREFIX": f"{name}:",
            "SIGIL_LISTEN": f"127.0.0.1:{port}",
            "SIGIL_PLUGIN_DIR": os.path.join(ROOT, "target/plugins/default"),
            "SIGIL_SIGNING_KEY_SECRET": base64.b64encode(os.urandom(32)).decode(),
            "SIGIL_LOG__FILTER": "warn",
        })
        self.env.update(env or {})
        sigil = sigil_binary()
        subprocess.run([sigil, "migrate"], env=self.env, check=True, capture_output=True)
        subprocess.run([sigil, "admin", "create", "--username", "admin", "--email", "admin@example.com"],
                       input=self.admin_password, text=True, env=self.env, check=True, capture_output=True)
        self.log_path = os.path.join(TARGET, f"{name}-server.log")
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sigil, "serve"], env=self.env, stdout=log, stderr=log)
        self.pid = self.proc.pid
        for _ in range(300):
            if self.request("GET", "/ready", timeout=2)[0] == 200:
                return
            time.sleep(0.1)
        self.proc.kill()
        raise SystemExit(f"server did not become ready (see {self.log_path})")

    def request(self, method, path, body=None, token=None, source="127.0.0.1", timeout=60, raw=None):
        """One request on a fresh connection from `source`: (status, headers, bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout, source_address=(source, 0))
        headers = {}
        data = json.dumps(body).encode() if body is not None else raw
        if data is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        except (ConnectionError, http.client.HTTPException, OSError) as err:
            return 0, {}, str(err).encode()
        finally:
            conn.close()

    def register(self, username, password, source="127.0.0.1"):
        status, _, body = self.request(
            "POST", "/v1/auth/register",
            {"username": username, "email": f"{username}@example.com", "password": password}, source=source)
        if status != 201:
            raise SystemExit(f"register {username}: {status} {body[:200]!r}")

    def login(self, username, password, source="127.0.0.1"):
        """(status, access token or None)."""
        status, _, body = self.request("POST", "/v1/auth/login", {"username": username, "password": password},
                                       source=source)
        return status, (json.loads(body)["access_token"] if status == 200 else None)

    def user(self, username):
        """Register `username` and return its access token."""
        password = f"{username} password 123"
        self.register(username, password)
        return self.login(username, password)[1]

    def add_key(self, token, public_pem, algorithm, curve=None):
        body = {"key_data": public_pem, "format": "PEM", "algorithm": algorithm}
        if curve:
            body["curve"] = curve
        status, _, answer = self.request("POST", "/v1/keys", body, token=token)
        if status != 201:
            raise SystemExit(f"key upload: {status} {answer[:300]!r}")
        return json.loads(answer)["id"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if os.environ.get("SIGIL_KEEP_DB") == "1":
            print(f"kept database {self.db} (SIGIL_KEEP_DB=1)", flush=True)
        else:
            subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)"],
                           capture_output=True)
        redis_url = self.env["REDIS_URL"].removeprefix("redis://")
        host, _, port = redis_url.partition(":")
        keys = subprocess.run(["redis-cli", "-h", host, "-p", port or "6379", "--scan", "--pattern", f"{self.db}:*"],
                              capture_output=True, text=True).stdout.split()
        for i in range(0, len(keys), 500):
            subprocess.run(["redis-cli", "-h", host, "-p", port or "6379", "del", *keys[i:i + 500]], capture_output=True)


def openssl_key(workdir, kind):
    """A key pair made with OpenSSL: (private path, public PEM). kind: ed25519, p256, rsa2048."""
    private = os.path.join(workdir, f"{kind}.key")
    if kind == "ed25519":
        args = ["openssl", "genpkey", "-algorithm", "ed25519", "-out", private]
    elif kind == "p256":
        args = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", private]
    elif kind == "rsa2048":
        args = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", private]
    else:
        raise ValueError(kind)
    subprocess.run(args, check=True, capture_output=True)
    public = subprocess.run(["openssl", "pkey", "-in", private, "-pubout"], check=True, capture_output=True).stdout
    return private, public.decode()


def openssl_sign(private, kind, document, workdir):
    """A signature over `document`: Ed25519 raw, ECDSA DER over SHA-256, RSA PKCS#1 v1.5 over SHA-256."""
    path = os.path.join(workdir, "document")
    with open(path, "wb") as f:
        f.write(document)
    if kind == "ed25519":
        args = ["openssl", "pkeyutl", "-sign", "-inkey", private, "-rawin", "-in", path]
    else:
        args = ["openssl", "dgst", "-sha256", "-sign", private, path]
    return subprocess.run(args, check=True, capture_output=True).stdout


def cpu_seconds(pid):
    """User + system CPU of one process, in seconds (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_of_command(name):
    """Summed CPU seconds of every process whose command name is `name` (postgres, redis-server)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != name:
                    continue
            total += cpu_seconds(int(entry))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
