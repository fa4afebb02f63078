//! TLS and mutual TLS with certificates made at test time: a trusted client works; a plaintext
//! client, a client trusting another CA, and (under mutual TLS) a client without a certificate
//! are refused; unusable PEM files stop the server with a message naming the file.

use std::process::Command;

use grpcio::RpcStatusCode;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use routeguide::ServerConfig;
use routeguide::proto;
use routeguide::{ClientOptions, RouteGuideClient};
use routeguide::{ClientTls, ServerTls};

use crate::common;
use crate::common::{TestServer, assert_status, standard_store};

/// A CA and what it signs, as PEM text.
struct Authority {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        Authority {
            ca: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A certificate for `names` (host names or IP addresses) and its key.
    fn issue(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn tls_server(authority: &Authority, mutual: bool) -> TestServer {
    let (cert, key) = authority.issue(&["localhost", "127.0.0.1"]);
    let ca = authority.ca_pem();
    let config = ServerConfig {
        tls: Some(ServerTls::from_pem(
            &cert,
            &key,
            mutual.then_some(ca.as_str()),
        )),
        ..ServerConfig::default()
    };
    TestServer::start_with(config, standard_store())
}

fn client(addr: &str, tls: ClientTls) -> RouteGuideClient {
    let options = ClientOptions {
        tls: Some(tls),
        own_connection: true,
        ..ClientOptions::default()
    };
    RouteGuideClient::connect_with(addr, &options)
}

#[test]
fn a_client_that_trusts_the_ca_is_served_over_tls() {
    let authority = Authority::new("routeguide test CA");
    let server = tls_server(&authority, false);
    let ca = authority.ca_pem();
    let by_ip = client(&server.addr, ClientTls::from_pem(Some(&ca), None, None));
    let feature = by_ip
        .get_feature(proto::point(409_146_138, -746_188_906))
        .unwrap();
    assert!(feature.name.starts_with("Berkshire Valley"));
    let by_name = client(
        &server.addr,
        ClientTls::from_pem(Some(&ca), None, Some("localhost")),
    );
    assert!(by_name.get_feature(proto::point(0, 0)).is_ok());
}

#[test]
fn plaintext_and_untrusting_clients_are_refused() {
    let authority = Authority::new("routeguide test CA");
    let server = tls_server(&authority, false);

    let plaintext = RouteGuideClient::connect_separately(&server.addr);
    let error = assert_status(
        plaintext.get_feature(proto::point(0, 0)),
        RpcStatusCode::UNAVAILABLE,
        "",
    );
    assert!(error.to_string().contains("agree on TLS"), "{error}");

    let stranger = Authority::new("some other CA");
    let wrong_ca = client(
        &server.addr,
        ClientTls::from_pem(Some(&stranger.ca_pem()), None, None),
    );
    assert_status(
        wrong_ca.get_feature(proto::point(0, 0)),
        RpcStatusCode::UNAVAILABLE,
        "",
    );

    let wrong_name = client(
        &server.addr,
        ClientTls::from_pem(Some(&authority.ca_pem()), None, Some("elsewhere.example")),
    );
    assert!(wrong_name.get_feature(proto::point(0, 0)).is_err());
}

#[test]
fn mutual_tls_serves_clients_with_a_certificate_from_the_ca_only() {
    let authority = Authority::new("routeguide test CA");
    let server = tls_server(&authority, true);
    let ca = authority.ca_pem();

    let anonymous = client(&server.addr, ClientTls::from_pem(Some(&ca), None, None));
    assert_status(
        anonymous.get_feature(proto::point(0, 0)),
        RpcStatusCode::UNAVAILABLE,
        "",
    );

    let stranger = Authority::new("some other CA");
    let (cert, key) = stranger.issue(&["client"]);
    let foreign = client(
        &server.addr,
        ClientTls::from_pem(Some(&ca), Some((&cert, &key)), None),
    );
    assert!(foreign.get_feature(proto::point(0, 0)).is_err());

    let (cert, key) = authority.issue(&["client"]);
    let member = client(
        &server.addr,
        ClientTls::from_pem(Some(&ca), Some((&cert, &key)), None),
    );
    assert!(member.get_feature(proto::point(0, 0)).is_ok());
}

#[test]
fn the_binaries_speak_tls_from_pem_files_and_name_a_bad_one() {
    let authority = Authority::new("routeguide test CA");
    let (cert, key) = authority.issue(&["localhost", "127.0.0.1"]);
    let dir = std::env::temp_dir().join(format!("routeguide-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let (cert, key, ca) = (
        write("server.pem", &cert),
        write("server.key", &key),
        write("ca.pem", &authority.ca_pem()),
    );

    let server = common::process::start_server(&["--tls-cert", &cert, "--tls-key", &key]);
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_client"))
        .args([
            "--addr",
            &server.addr(),
            "--tls-ca",
            &ca,
            "--json",
            "get-feature",
            "409146138",
            "-746188906",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("Berkshire Valley"));

    // `--tls` alone trusts gRPC's default roots: refused while they lack our CA, served once
    // gRPC is pointed at it (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH stands in for the system's roots).
    let tls_only = |roots: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_route_guide_client"));
        command.args(["--addr", &format!("localhost:{}", server.port())]);
        command.args([
            "--tls",
            "--timeout",
            "5",
            "get-feature",
            "409146138",
            "-746188906",
        ]);
        command.env_remove("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH");
        if let Some(roots) = roots {
            command.env("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", roots);
        }
        command.output().unwrap()
    };
    let untrusted = tls_only(None);
    assert_eq!(
        untrusted.status.code(),
        Some(2),
        "the system's roots lack our CA"
    );
    let trusted = tls_only(Some(&ca));
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(String::from_utf8_lossy(&trusted.stdout).contains("Berkshire Valley"));

    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &ca,
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--tls-key") && stderr.contains("ca.pem"),
        "{stderr}"
    );

    // PEM armour around a body that is no certificate stops the server at start, not at the
    // first handshake.
    let corrupt = write(
        "corrupt.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_route_guide_server"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            &corrupt,
            "--tls-key",
            &key,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("--tls-cert {corrupt}")) && stderr.contains("does not parse"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
