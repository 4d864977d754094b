"""A throw-away certificate authority for the lab: a CA and server certificates, good or bad.

:func:`issue_flavoured` turns a listener's :data:`~homediag_lab.topology.TlsFlavour`
(from the lab CA, the device's own self-signed one, expired, expiring, issued
for another name) into the certificate the lab's servers present.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from homediag_lab.topology import LAN_DOMAIN, TlsFlavour

__all__ = ["LabCA", "ServerCert", "issue_flavoured"]


@dataclass(frozen=True)
class ServerCert:
    """Paths of a certificate and its key, in PEM."""

    cert: Path
    key: Path


class LabCA:
    """A CA created when the lab is built; its certificate is what the lab's clients trust."""

    def __init__(self, directory: Path, name: str = "homediag lab CA") -> None:
        from cryptography import x509  # noqa: PLC0415 - lab only
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.x509.oid import NameOID  # noqa: PLC0415

        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert_path = directory / "ca.pem"
        self.cert_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        name: str,
        *,
        dns_names: list[str] | None = None,
        ip_addresses: list[str] | None = None,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        self_signed: bool = False,
    ) -> ServerCert:
        """Issue a server certificate (or a self-signed one) and write it as ``<name>.pem``/``.key``."""
        from cryptography import x509  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cn = (dns_names or ip_addresses or [name])[0]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names or []]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses or []]
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from or now - timedelta(days=1))
            .not_valid_after(valid_until or now + timedelta(days=397))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        cert = builder.sign(key if self_signed else self._key, hashes.SHA256())
        cert_path = self.directory / f"{name}.pem"
        key_path = self.directory / f"{name}.key"
        chain = cert.public_bytes(serialization.Encoding.PEM)
        cert_path.write_bytes(chain)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return ServerCert(cert_path, key_path)


def issue_flavoured(
    ca: LabCA, name: str, flavour: TlsFlavour, names: list[str], address: str
) -> ServerCert:
    """The certificate of flavour ``flavour`` for the server ``names`` at ``address``.

    ``self-signed`` is named for ``names[0]`` alone (devices such as Hue and
    Cast name their own certificate for themselves); ``other-name`` is issued
    for ``other.<the domain of names[0]>``; every other flavour is from the
    lab CA for ``names`` (and ``address`` when valid).
    """
    now = datetime.now(UTC)
    if flavour == "self-signed":
        return ca.issue(name, dns_names=[names[0]], self_signed=True)
    if flavour == "expired":
        return ca.issue(
            name,
            dns_names=names,
            valid_from=now - timedelta(days=400),
            valid_until=now - timedelta(days=3),
        )
    if flavour == "expiring":
        return ca.issue(name, dns_names=names, valid_until=now + timedelta(days=10))
    if flavour == "other-name":
        return ca.issue(name, dns_names=[f"other.{names[0].partition('.')[2] or LAN_DOMAIN}"])
    return ca.issue(name, dns_names=names, ip_addresses=[address])
