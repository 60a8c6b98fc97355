"""Certificate authorities and server certificates made with the openssl CLI, for tests that
run PostgreSQL with TLS the way RDS does (the server verified against a CA bundle).

Keys are P-256 (fast to make); certificates live 30 days, so a test run never meets an
expired one. make_ca() gives a CA; make_server_cert() signs a certificate for the names a
client will check with sslmode=verify-full (127.0.0.1 and localhost by default).
"""

import os
import subprocess


class TlsError(RuntimeError):
    pass


def _openssl(args, cwd):
    p = subprocess.run(["openssl"] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    if p.returncode != 0:
        raise TlsError("openssl %s failed (%d): %s" % (args[0], p.returncode, p.stderr[-1500:]))


def make_ca(directory, name="Time Warp test CA"):
    """A self-signed CA in `directory`: returns (cert_path, key_path)."""
    os.makedirs(directory, exist_ok=True)
    crt, key = os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key")
    _openssl(["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=" + name,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory)
    return crt, key


def make_server_cert(ca, directory, names=("127.0.0.1", "localhost"), stem="server"):
    """A server certificate signed by `ca` = (cert, key) for `names` (IP addresses or DNS
    names): returns (cert_path, key_path), the key readable by its owner only."""
    os.makedirs(directory, exist_ok=True)
    crt, key = os.path.join(directory, stem + ".crt"), os.path.join(directory, stem + ".key")
    csr, ext = os.path.join(directory, stem + ".csr"), os.path.join(directory, stem + ".ext")
    sans = ",".join(("IP:" if n.replace(".", "").isdigit() or ":" in n else "DNS:") + n for n in names)
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % sans)
    _openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0]], directory)
    _openssl(["x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
              "-out", crt, "-days", "30", "-extfile", ext], directory)
    os.chmod(key, 0o600)
    return crt, key
