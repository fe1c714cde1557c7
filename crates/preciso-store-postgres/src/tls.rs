//! Connecting with libpq's meaning of `sslmode`, over rustls. The `postgres` crate parses only
//! `disable`, `prefer` and `require`; this module takes `sslmode` and `sslrootcert` out of the
//! URL and decides:
//!
//! | sslmode | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | never | – |
//! | `allow` | if the server refuses plain | as `require` |
//! | `prefer` (default) | when the server offers it | as `require` |
//! | `require` | always | no; against the root file when one exists (libpq's rule) |
//! | `verify-ca` | always | chain against the root file, not the host name |
//! | `verify-full` | always | chain and host name (DNS or IP in the SAN) |
//!
//! The root file is `sslrootcert`, else `~/.postgresql/root.crt` when it exists;
//! `sslrootcert=system` is the system's trust store (and means `verify-full` by default, as in
//! libpq 16). The verifying modes refuse to start without roots rather than trust every
//! public CA.

use postgres::config::SslMode as PgSslMode;
use postgres::{Client, Config, NoTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{
    WebPkiSupportedAlgorithms, aws_lc_rs, verify_tls12_signature, verify_tls13_signature,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum RootCert {
    File(PathBuf),
    System,
}

/// A parsed connection URL: built once per catalog, `connect` once per connection.
pub struct Connector {
    config: Config,
    mode: SslMode,
    tls: Option<MakeRustlsConnect>,
}

impl Connector {
    /// Parses `postgres://…[?…&sslmode=…&sslrootcert=…]`. Errors never quote the URL (it may
    /// hold a password).
    pub fn new(url: &str) -> Result<Self, String> {
        let (rest, sslmode, sslrootcert) = take_tls_params(url)?;
        let root = sslrootcert.filter(|s| !s.is_empty()).map(|s| match s.as_str() {
            "system" => RootCert::System,
            _ => RootCert::File(s.into()),
        });
        let mode = match sslmode.as_deref() {
            None if root == Some(RootCert::System) => SslMode::VerifyFull,
            None => SslMode::Prefer,
            Some(m) => SslMode::parse(m).ok_or_else(|| format!("invalid sslmode value {m:?}"))?,
        };
        if root == Some(RootCert::System) && mode != SslMode::VerifyFull {
            return Err("sslrootcert=system needs sslmode=verify-full".into());
        }
        let mut config: Config =
            rest.parse().map_err(|e| format!("invalid connection URL: {e}"))?;
        config.ssl_mode(match mode {
            SslMode::Disable | SslMode::Allow => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        });
        let tls = client_config(mode, root.as_ref())?.map(MakeRustlsConnect::new);
        Ok(Connector { config, mode, tls })
    }

    pub fn mode(&self) -> SslMode {
        self.mode
    }

    pub fn connect(&self) -> Result<Client, postgres::Error> {
        let Some(tls) = &self.tls else { return self.config.connect(NoTls) };
        match self.mode {
            // Plain first; TLS when the server refuses a plain connection.
            SslMode::Allow => self.config.connect(NoTls).or_else(|_| {
                let mut c = self.config.clone();
                c.ssl_mode(PgSslMode::Require);
                c.connect(tls.clone())
            }),
            // The driver falls back to plain only when the server declines TLS; libpq also
            // after a failed handshake.
            SslMode::Prefer => self.config.connect(tls.clone()).or_else(|e| {
                if !e.to_string().starts_with("error performing TLS handshake") {
                    return Err(e);
                }
                let mut c = self.config.clone();
                c.ssl_mode(PgSslMode::Disable);
                c.connect(NoTls)
            }),
            _ => self.config.connect(tls.clone()),
        }
    }
}

/// The URL without `sslmode` and `sslrootcert` (other parameters kept verbatim), and their
/// decoded values.
fn take_tls_params(url: &str) -> Result<(String, Option<String>, Option<String>), String> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.into(), None, None)) };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|e| format!("invalid percent-encoding in the connection URL: {e}"))
    };
    let (mut kept, mut mode, mut root) = (Vec::new(), None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(k)?.as_str() {
            "sslmode" => mode = Some(decode(v)?),
            "sslrootcert" => root = Some(decode(v)?),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.into() } else { format!("{base}?{}", kept.join("&")) };
    Ok((rest, mode, root))
}

/// The rustls configuration of a mode; `None` for `disable`.
fn client_config(mode: SslMode, root: Option<&RootCert>) -> Result<Option<ClientConfig>, String> {
    if mode == SslMode::Disable {
        return Ok(None);
    }
    let roots = roots(mode, root)?;
    let provider = Arc::new(aws_lc_rs::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut config = match (mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => {
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        (_, roots) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly {
                roots: roots.map(Arc::new),
                algorithms,
            }))
            .with_no_client_auth(),
    };
    // PostgreSQL 17's direct TLS needs it; older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Some(config))
}

/// The trusted roots: `sslrootcert`, else `~/.postgresql/root.crt` if it exists. Required by
/// the verifying modes.
fn roots(mode: SslMode, root: Option<&RootCert>) -> Result<Option<RootCertStore>, String> {
    let file = match root {
        Some(RootCert::System) => return system_roots().map(Some),
        Some(RootCert::File(p)) => Some(p.clone()),
        None => std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql/root.crt")),
    };
    match file {
        Some(f) if f.exists() => file_roots(&f).map(Some),
        Some(f) if root.is_some() || mode.verifies() => Err(format!(
            "root certificate file {} does not exist; set sslrootcert=PATH or \
             sslrootcert=system, or use a weaker sslmode",
            f.display()
        )),
        None if mode.verifies() => {
            Err("sslmode needs a root certificate: set sslrootcert=PATH".into())
        }
        _ => Ok(None),
    }
}

fn file_roots(path: &Path) -> Result<RootCertStore, String> {
    let error = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| error(&e))? {
        roots.add(cert.map_err(|e| error(&e))?).map_err(|e| error(&e))?;
    }
    if roots.is_empty() {
        return Err(error(&"no certificate found"));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(format!("no system root certificates found: {:?}", found.errors));
    }
    Ok(roots)
}

/// `verify-ca` (the chain against `roots`, whatever the name) or, without roots, `require`
/// (no certificate check). The handshake's signatures are verified either way.
#[derive(Debug)]
struct ChainOnly {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            let all = self.algorithms.all;
            verify_server_cert_signed_by_trust_anchor(&cert, roots, intermediates, now, all)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_and_the_others_kept_verbatim() {
        let (rest, mode, root) = take_tls_params(
            "postgres://u@h:5432/db?options=-c%20x%3Dy&sslmode=verify-full&sslrootcert=%2Fa%20b.crt",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@h:5432/db?options=-c%20x%3Dy");
        assert_eq!((mode.as_deref(), root.as_deref()), (Some("verify-full"), Some("/a b.crt")));
        assert_eq!(
            take_tls_params("postgres://h/db?sslmode=require").unwrap().0,
            "postgres://h/db"
        );
    }

    #[test]
    fn modes_follow_libpq() {
        let mode = |url: &str| Connector::new(url).map(|c| c.mode());
        assert!(mode("postgres://h/db?sslmode=bogus").is_err());
        assert!(mode("postgres://h/db?sslmode=require&sslrootcert=system").is_err());
        assert!(mode("postgres://h/db?sslmode=verify-ca&sslrootcert=/nonexistent").is_err());
        assert!(mode("postgres://h/db?sslmode=require&sslrootcert=/nonexistent").is_err());
        assert_eq!(mode("postgres://h/db?sslmode=disable"), Ok(SslMode::Disable));
        assert!(Connector::new("postgres://h/db?sslmode=disable").unwrap().tls.is_none());
        assert_eq!(mode("postgres://h/db"), Ok(SslMode::Prefer));
        assert_eq!(mode("postgres://h/db?sslmode=require"), Ok(SslMode::Require));
    }
}
