//! TLS for the server and the client: reading the PEM files named on the command line, checking
//! that each holds what its flag says before anything listens or connects, and turning them into
//! grpcio's credentials (BoringSSL, built with the gRPC core). The server's key is checked against
//! its certificate at start when the key is in PKCS#8 form ("BEGIN PRIVATE KEY"), the form rcgen
//! and `openssl genpkey` write; an older form is not checked here, and a mismatch then fails the
//! handshake, as does a certificate the peer does not trust: the caller sees `UNAVAILABLE`.

use std::fmt;
use std::path::{Path, PathBuf};

use log::warn;
use x509_parser::pem::Pem;

use grpcio::{
    CertificateRequestType, ChannelBuilder, ChannelCredentialsBuilder, ServerCredentials,
    ServerCredentialsBuilder,
};

/// The server's certificate and key, and the CA that client certificates must chain to when
/// clients must present one (mutual TLS).
#[derive(Clone)]
pub struct ServerTls {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl ServerTls {
    /// Reads `--tls-cert`, `--tls-key` and, for mutual TLS, `--tls-client-ca`.
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Self, TlsError> {
        let tls = ServerTls {
            cert: read_pem("--tls-cert", cert, Holds::Certificate)?,
            key: read_pem("--tls-key", key, Holds::PrivateKey)?,
            client_ca: client_ca
                .map(|ca| read_pem("--tls-client-ca", ca, Holds::Certificate))
                .transpose()?,
        };
        if key_matches_certificate(&tls.cert, &tls.key) == Some(false) {
            return Err(TlsError {
                flag: "--tls-key",
                path: key.to_path_buf(),
                problem: format!("it is not the key of the certificate in {}", cert.display()),
                cause: None,
            });
        }
        Ok(tls)
    }

    /// From PEM text already in memory.
    pub fn from_pem(cert: &str, key: &str, client_ca: Option<&str>) -> Self {
        ServerTls {
            cert: cert.as_bytes().to_vec(),
            key: key.as_bytes().to_vec(),
            client_ca: client_ca.map(|ca| ca.as_bytes().to_vec()),
        }
    }

    /// Whether clients must present a certificate signed by the client CA.
    pub fn requires_client_certificates(&self) -> bool {
        self.client_ca.is_some()
    }

    pub(crate) fn credentials(&self) -> ServerCredentials {
        let builder = ServerCredentialsBuilder::new().add_cert(self.cert.clone(), self.key.clone());
        match &self.client_ca {
            Some(ca) => builder
                .root_cert(
                    ca.clone(),
                    CertificateRequestType::RequestAndRequireClientCertificateAndVerify,
                )
                .build(),
            None => builder.build(),
        }
    }
}

impl fmt::Debug for ServerTls {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field(
                "client_certificates_required",
                &self.requires_client_certificates(),
            )
            .finish_non_exhaustive()
    }
}

/// What a client trusts and, for mutual TLS, what it presents.
#[derive(Clone, Default)]
pub struct ClientTls {
    /// CA certificates to trust; gRPC's default roots when `None`.
    ca: Option<Vec<u8>>,
    /// The client's own certificate and key.
    identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The name to check the server's certificate against, instead of the address's host.
    server_name: Option<String>,
}

impl ClientTls {
    /// Reads `--tls-ca` and, for mutual TLS, `--tls-cert` and `--tls-key`.
    pub fn from_files(
        ca: Option<&Path>,
        identity: Option<(&Path, &Path)>,
        server_name: Option<String>,
    ) -> Result<Self, TlsError> {
        Ok(ClientTls {
            ca: ca
                .map(|ca| read_pem("--tls-ca", ca, Holds::Certificate))
                .transpose()?,
            identity: identity
                .map(|(cert, key)| {
                    Ok((
                        read_pem("--tls-cert", cert, Holds::Certificate)?,
                        read_pem("--tls-key", key, Holds::PrivateKey)?,
                    ))
                })
                .transpose()?,
            server_name,
        })
    }

    /// What a client's TLS flags ask for: `None` (plaintext) unless `--tls` or any of `--tls-ca`,
    /// `--tls-cert` (with `--tls-key`) and `--tls-server-name` is given; then
    /// [`ClientTls::from_files`]. The client program and the load generator read their flags so.
    pub fn from_flags(
        tls: bool,
        ca: Option<&Path>,
        identity: Option<(&Path, &Path)>,
        server_name: Option<String>,
    ) -> Result<Option<Self>, TlsError> {
        if tls || ca.is_some() || identity.is_some() || server_name.is_some() {
            ClientTls::from_files(ca, identity, server_name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// From PEM text already in memory.
    pub fn from_pem(
        ca: Option<&str>,
        identity: Option<(&str, &str)>,
        server_name: Option<&str>,
    ) -> Self {
        ClientTls {
            ca: ca.map(|ca| ca.as_bytes().to_vec()),
            identity: identity
                .map(|(cert, key)| (cert.as_bytes().to_vec(), key.as_bytes().to_vec())),
            server_name: server_name.map(str::to_string),
        }
    }

    pub(crate) fn apply(&self, channel: ChannelBuilder) -> ChannelBuilder {
        let mut credentials = ChannelCredentialsBuilder::new();
        if let Some(ca) = &self.ca {
            credentials = credentials.root_cert(ca.clone());
        }
        if let Some((cert, key)) = &self.identity {
            credentials = credentials.cert(cert.clone(), key.clone());
        }
        let channel = channel.set_credentials(credentials.build());
        match &self.server_name {
            Some(name) => channel.override_ssl_target(name.clone()),
            None => channel,
        }
    }
}

impl fmt::Debug for ClientTls {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("custom_ca", &self.ca.is_some())
            .field("client_certificate", &self.identity.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

/// Whether `key` is the private key of the first certificate in `cert`: `None` when that cannot be
/// told here (a key that is not PKCS#8, or of an algorithm rcgen does not load). The blocks are
/// found as [`read_pem`] finds them, so a file that holds more than the key is read alike.
fn key_matches_certificate(cert: &[u8], key: &[u8]) -> Option<bool> {
    let key = first_block(key, |label| label == "PRIVATE KEY")?;
    let key = rcgen::KeyPair::try_from(key.contents.as_slice()).ok()?;
    let cert = first_block(cert, |label| label == "CERTIFICATE")?;
    let certificate = cert.parse_x509().ok()?;
    let certified = certificate.public_key().subject_public_key.data.as_ref();
    Some(certified == rcgen::PublicKeyData::der_bytes(&key))
}

/// The first well-formed PEM block of `pem` whose label `wanted` accepts.
fn first_block(pem: &[u8], wanted: impl Fn(&str) -> bool) -> Option<Pem> {
    Pem::iter_from_buffer(pem)
        .map_while(Result::ok)
        .find(|block| wanted(&block.label))
}

/// What a PEM file given to a flag must hold.
#[derive(Clone, Copy)]
enum Holds {
    Certificate,
    PrivateKey,
}

/// Reads the PEM file given to `flag` and checks that it holds what the flag says, decoded for
/// real: every certificate in it parses as X.509, and a PKCS#8 private key ("BEGIN PRIVATE KEY")
/// parses as a key. A key in an older form ("BEGIN RSA PRIVATE KEY", "BEGIN EC PRIVATE KEY") is
/// only decoded, with a warning that names its form: BoringSSL reads it, but it is not checked
/// here.
fn read_pem(flag: &'static str, path: &Path, holds: Holds) -> Result<Vec<u8>, TlsError> {
    let fail = |problem: String| TlsError {
        flag,
        path: path.to_path_buf(),
        problem,
        cause: None,
    };
    let pem = std::fs::read(path).map_err(|e| TlsError {
        cause: Some(e),
        ..fail("cannot read it".to_string())
    })?;
    let blocks = Pem::iter_from_buffer(&pem)
        .collect::<Result<Vec<Pem>, _>>()
        .map_err(|e| fail(format!("it is not valid PEM ({e})")))?;
    match holds {
        Holds::Certificate => {
            let certificates: Vec<&Pem> =
                blocks.iter().filter(|b| b.label == "CERTIFICATE").collect();
            if certificates.is_empty() {
                return Err(fail("it does not hold a PEM certificate".to_string()));
            }
            for (i, certificate) in certificates.iter().enumerate() {
                if let Err(e) = certificate.parse_x509() {
                    return Err(fail(format!(
                        "certificate {} in it does not parse ({e})",
                        i + 1
                    )));
                }
            }
        }
        Holds::PrivateKey => {
            let Some(key) = blocks.iter().find(|b| b.label.ends_with("PRIVATE KEY")) else {
                return Err(fail("it does not hold a PEM private key".to_string()));
            };
            match key.label.as_str() {
                "PRIVATE KEY" => {
                    if rcgen::KeyPair::try_from(key.contents.as_slice()).is_err() {
                        // rcgen knows the common algorithms only; a key it cannot load must
                        // still be well-formed DER, which BoringSSL may well read (P-521, say).
                        if !is_one_der_value(&key.contents) {
                            return Err(fail("its PKCS#8 private key does not parse".to_string()));
                        }
                        warn!(
                            "{flag} {}: the PKCS#8 key's algorithm is not one checked here; it is \
                             passed on, and BoringSSL decides",
                            path.display()
                        );
                    }
                }
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(fail(
                        "its private key is encrypted, which gRPC cannot use: decrypt it first"
                            .to_string(),
                    ));
                }
                label @ ("RSA PRIVATE KEY" | "EC PRIVATE KEY") => {
                    if !is_one_der_value(&key.contents) {
                        return Err(fail(format!("its \"{label}\" key does not parse")));
                    }
                    warn!(
                        "{flag} {}: a key in the \"{label}\" form is passed on unchecked; a \
                         PKCS#8 key (\"PRIVATE KEY\", as `openssl genpkey` writes) is checked at \
                         start",
                        path.display()
                    );
                }
                label => {
                    return Err(fail(format!(
                        "its \"{label}\" key is not one gRPC reads: give a PKCS#8, RSA or EC key \
                         in PEM"
                    )));
                }
            }
        }
    }
    Ok(pem)
}

/// Whether `bytes` hold exactly one well-formed DER value.
fn is_one_der_value(bytes: &[u8]) -> bool {
    matches!(x509_parser::der_parser::parse_der(bytes), Ok((rest, _)) if rest.is_empty())
}

/// A TLS file that cannot be used: the flag, the file, and why.
#[derive(Debug)]
pub struct TlsError {
    flag: &'static str,
    path: PathBuf,
    problem: String,
    /// The I/O error behind `problem`, when the file could not be read.
    cause: Option<std::io::Error>,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.flag, self.path.display(), self.problem)
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("routeguide-tls-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A self-signed certificate for localhost and its key, as PEM.
    fn certificate() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused_at_start() {
        let (cert, key) = certificate();
        let (_, other_key) = certificate();
        assert_eq!(
            key_matches_certificate(cert.as_bytes(), key.as_bytes()),
            Some(true)
        );
        assert_eq!(
            key_matches_certificate(cert.as_bytes(), other_key.as_bytes()),
            Some(false)
        );

        let cert_file = temp_file("match-cert.pem", &cert);
        let key_file = temp_file("match-key.pem", &key);
        let other_file = temp_file("other-key.pem", &other_key);
        assert!(ServerTls::from_files(&cert_file, &key_file, None).is_ok());
        let error = refusal(ServerTls::from_files(&cert_file, &other_file, None));
        assert!(error.starts_with("--tls-key"), "{error}");
        assert!(
            error.contains("other-key.pem: it is not the key of the certificate in"),
            "{error}"
        );
        for path in [cert_file, key_file, other_file] {
            std::fs::remove_file(path).unwrap();
        }
    }

    /// What a refusal says, cause included, as the programs print it.
    #[track_caller]
    fn refusal<T>(outcome: Result<T, TlsError>) -> String {
        match outcome {
            Ok(_) => panic!("the files were accepted"),
            Err(e) => crate::describe(&e),
        }
    }

    #[test]
    fn files_that_cannot_be_used_are_named_with_their_flag() {
        let missing = Path::new("no/such/server.pem");
        let error = refusal(ServerTls::from_files(missing, missing, None));
        assert!(
            error.starts_with("--tls-cert no/such/server.pem: cannot read it"),
            "{error}"
        );

        // PEM armour around a body that is no certificate: refused at start, not at the first
        // handshake.
        let corrupt = temp_file(
            "corrupt-cert.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let (good_cert, good_key) = certificate();
        let cert = temp_file("cert.pem", &good_cert);
        let key = temp_file("good-key.pem", &good_key);
        let error = refusal(ServerTls::from_files(&corrupt, &key, None));
        assert!(
            error.starts_with(&format!("--tls-cert {}", corrupt.display()))
                && error.contains("certificate 1 in it does not parse"),
            "{error}"
        );
        let corrupt_key = temp_file(
            "corrupt-key.pem",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        );
        let error = refusal(ServerTls::from_files(&cert, &corrupt_key, None));
        assert!(
            error.starts_with(&format!("--tls-key {}", corrupt_key.display()))
                && error.contains("its PKCS#8 private key does not parse"),
            "{error}"
        );

        // A P-521 key (made with `openssl genpkey`): rcgen cannot load it, BoringSSL can, so it
        // is passed on rather than refused.
        let p521 = temp_file(
            "p521-key.pem",
            "-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIBulUWCMyFgUKy2z6p
gGYu6phUQHuQdQdRH3MgjoeH/vGm660M3897k3rrkxwt6OOtHIrFWe8THCg3a4Y7
gElzRCWhgYkDgYYABAGRPuxzoQXKR3GSp3q4pWEoXvOsDtjouaxduy2aoJbRV/GA
OKuo0SbJgbsluai8GgQihVSVOjKJrJFVwkE50/+4QAEpkMO5hjomo0u1dOehe1zY
L5pbUNPiKEQG10xmtRYTNMBmN5+NE77kfJ8rmFYh9gs0C2Vg6BiQi5SFyX+lQ/7e
mw==
-----END PRIVATE KEY-----
",
        );
        assert!(ServerTls::from_files(&cert, &p521, None).is_ok());
        // A key gRPC cannot read at all is refused, naming its form.
        let openssh = temp_file(
            "openssh-key.pem",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        );
        let error = refusal(ServerTls::from_files(&cert, &openssh, None));
        assert!(
            error.contains("--tls-key") && error.contains("\"OPENSSH PRIVATE KEY\" key is not one"),
            "{error}"
        );

        let not_a_key = temp_file("key.pem", "hello");
        let error = refusal(ServerTls::from_files(&cert, &not_a_key, None));
        assert!(
            error.contains("--tls-key") && error.contains("does not hold a PEM private key"),
            "{error}"
        );

        let error = refusal(ClientTls::from_files(Some(&not_a_key), None, None));
        assert!(
            error.contains("--tls-ca") && error.contains("does not hold a PEM certificate"),
            "{error}"
        );
        for path in [corrupt, cert, key, corrupt_key, p521, openssh, not_a_key] {
            std::fs::remove_file(path).unwrap();
        }
    }
}
