"""transport/keys.py: the ChargePointCertificate's private keys in the data directory (security
whitepaper A02.FR.05: kept on the station, file mode 0600 in a 0700 directory; deleted when no
certificate uses them any more)."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509

from ocpp_station.core.certificates import key_id
from ocpp_station.transport.keys import KeyStore


def test_a_generated_key_is_kept_0600_and_forget_deletes_it(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    csr, public = keys.generate("Example CPO", "SN-1")
    request = x509.load_pem_x509_csr(csr.encode("ascii"))
    assert request.is_signature_valid
    assert request.subject.rfc4514_string() == "CN=SN-1,O=Example CPO"
    name = key_id(public)
    file = tmp_path / "keys" / f"{name}.pem"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert KeyStore(tmp_path / "keys").private_key_pem(name) == file.read_text()  # after a restart
    keys.forget(name)
    assert not file.exists()
    assert keys.private_key_pem(name) is None
    keys.forget(name)  # unknown: nothing to do
    KeyStore(None).forget(name)
