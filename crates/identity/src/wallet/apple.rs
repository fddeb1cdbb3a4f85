//! The `.pkpass` archive: the pass's files, `manifest.json` (each file's SHA-1 in hex, as
//! Apple asks) and `signature`, a DER CMS `SignedData` detached over the manifest, signed
//! (RSA PKCS#1 v1.5 with SHA-256) by the Pass Type ID certificate, carrying that
//! certificate and Apple's WWDR intermediate, with a signing time. Pure Rust (RustCrypto's
//! `cms`, `x509-cert`, `rsa`), no system OpenSSL.

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::{Cursor, Write};
use std::path::Path;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::der::asn1::{ObjectIdentifier, SetOfVec, UtcTime};
use x509_cert::der::{Any, Decode, DecodePem, Encode};
use x509_cert::spki::AlgorithmIdentifier;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const OID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

/// Why a pass could not be signed or its signing material not be read.
#[derive(Debug, thiserror::Error)]
pub enum PassSignError {
    /// A certificate or key file could not be read or parsed; names the file and the fix.
    #[error("{0}")]
    Material(String),
    /// The archive or the signature could not be written.
    #[error("pass signing: {0}")]
    Sign(String),
}

/// The operator's signing material: the Pass Type ID certificate and its RSA key, and
/// Apple's WWDR intermediate certificate.
#[derive(Clone)]
pub struct PassSigner {
    key: RsaPrivateKey,
    certificate: Certificate,
    wwdr: Certificate,
}

impl std::fmt::Debug for PassSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassSigner").finish_non_exhaustive()
    }
}

fn read_cert(path: &Path, what: &str) -> Result<Certificate, PassSignError> {
    let bytes = std::fs::read(path).map_err(|e| {
        PassSignError::Material(format!(
            "{what} {}: {e}; give the path of a readable PEM or DER certificate",
            path.display()
        ))
    })?;
    Certificate::from_pem(&bytes)
        .or_else(|_| Certificate::from_der(&bytes))
        .map_err(|e| {
            PassSignError::Material(format!(
                "{what} {}: not a PEM or DER certificate ({e})",
                path.display()
            ))
        })
}

impl PassSigner {
    /// Reads PEM (or DER) files: the Pass Type ID certificate, its private key (PKCS#8
    /// or PKCS#1 PEM, unencrypted) and the WWDR intermediate.
    pub fn from_files(certificate: &Path, key: &Path, wwdr: &Path) -> Result<Self, PassSignError> {
        let certificate = read_cert(certificate, "wallet.apple.certificate")?;
        let wwdr = read_cert(wwdr, "wallet.apple.wwdr_certificate")?;
        let pem = std::fs::read_to_string(key).map_err(|e| {
            PassSignError::Material(format!(
                "wallet.apple.key {}: {e}; give the path of a readable PEM private key",
                key.display()
            ))
        })?;
        let key = RsaPrivateKey::from_pkcs8_pem(&pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(&pem))
            .map_err(|e| {
                PassSignError::Material(format!(
                    "wallet.apple.key {}: not an unencrypted RSA PEM key ({e}); export it with `openssl pkcs12 -nodes`",
                    key.display()
                ))
            })?;
        Ok(Self {
            key,
            certificate,
            wwdr,
        })
    }

    /// The `.pkpass` archive of `files` (name, bytes; `pass.json` among them), with the
    /// manifest and its signature added.
    pub fn package(&self, files: &[(&str, &[u8])]) -> Result<Vec<u8>, PassSignError> {
        let manifest = manifest(files);
        let manifest =
            serde_json::to_vec(&manifest).map_err(|e| PassSignError::Sign(e.to_string()))?;
        let signature = self.sign(&manifest)?;
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let all = files.iter().copied().chain([
            ("manifest.json", manifest.as_slice()),
            ("signature", signature.as_slice()),
        ]);
        for (name, bytes) in all {
            zip.start_file(name, options)
                .map_err(|e| PassSignError::Sign(e.to_string()))?;
            zip.write_all(bytes)
                .map_err(|e| PassSignError::Sign(e.to_string()))?;
        }
        let out = zip
            .finish()
            .map_err(|e| PassSignError::Sign(e.to_string()))?;
        Ok(out.into_inner())
    }

    /// The DER CMS detached signature of `manifest`.
    pub fn sign(&self, manifest: &[u8]) -> Result<Vec<u8>, PassSignError> {
        let err = |e: &dyn std::fmt::Display| PassSignError::Sign(e.to_string());
        let tbs = &self.certificate.tbs_certificate;
        let signer = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        });
        let content = EncapsulatedContentInfo {
            econtent_type: OID_DATA,
            econtent: None,
        };
        let digest_alg = AlgorithmIdentifier::<Any> {
            oid: OID_SHA256,
            parameters: Some(Any::null()),
        };
        let signing_key: SigningKey<Sha256> = SigningKey::new(self.key.clone());
        let digest = Sha256::digest(manifest);
        let mut info = SignerInfoBuilder::new(
            &signing_key,
            signer,
            digest_alg.clone(),
            &content,
            Some(digest.as_slice()),
        )
        .map_err(|e| err(&e))?;
        let now = UtcTime::from_system_time(std::time::SystemTime::now()).map_err(|e| err(&e))?;
        let mut values = SetOfVec::new();
        values
            .insert(Any::encode_from(&x509_cert::time::Time::UtcTime(now)).map_err(|e| err(&e))?)
            .map_err(|e| err(&e))?;
        info.add_signed_attribute(Attribute {
            oid: OID_SIGNING_TIME,
            values,
        })
        .map_err(|e| err(&e))?;
        let mut builder = SignedDataBuilder::new(&content);
        builder
            .add_digest_algorithm(digest_alg)
            .map_err(|e| err(&e))?
            .add_certificate(CertificateChoices::Certificate(self.wwdr.clone()))
            .map_err(|e| err(&e))?
            .add_certificate(CertificateChoices::Certificate(self.certificate.clone()))
            .map_err(|e| err(&e))?
            .add_signer_info(info)
            .map_err(|e| err(&e))?;
        builder
            .build()
            .map_err(|e| err(&e))?
            .to_der()
            .map_err(|e| err(&e))
    }
}

/// `manifest.json`'s content: each file's name and its SHA-1 in lower-case hex.
pub fn manifest(files: &[(&str, &[u8])]) -> serde_json::Map<String, serde_json::Value> {
    files
        .iter()
        .map(|(name, bytes)| {
            (
                (*name).to_owned(),
                serde_json::Value::String(hex::encode(Sha1::digest(bytes))),
            )
        })
        .collect()
}

/// The icon every pass carries when the operator gives none (Apple requires
/// `icon.png`): a plain square in the pass's default background colour (the `@2x` one is
/// also the Google Wallet class's logo when the shop gave none).
const DEFAULT_ICON: &[u8] = include_bytes!("icon.png");
pub const DEFAULT_ICON_2X: &[u8] = include_bytes!("icon@2x.png");

/// Everything needed to issue members' passes: who issues them and the signing material.
#[derive(Debug, Clone)]
pub struct AppleWallet {
    /// Pass Type ID, team, web service.
    pub issuer: loyalty_core::service::wallet::apple::AppleIssuer,
    /// The signing material.
    pub signer: PassSigner,
    /// `icon.png` (and `icon@2x.png`) of every pass.
    pub icon: (Vec<u8>, Vec<u8>),
}

impl AppleWallet {
    /// The issuer and signer with the built-in icon.
    pub fn new(
        issuer: loyalty_core::service::wallet::apple::AppleIssuer,
        signer: PassSigner,
    ) -> Self {
        Self {
            issuer,
            signer,
            icon: (DEFAULT_ICON.to_vec(), DEFAULT_ICON_2X.to_vec()),
        }
    }

    /// The signed `.pkpass` of `customer`'s card at `org`, in the shop's colours and with
    /// its logo (`logo.png` and `logo@2x.png`: Wallet scales the one file the admin gave)
    /// when it set them (`loyalty_core::service::wallet::look::shop_look`), carrying
    /// `auth_token` for the web service; void when `voided`.
    pub fn pass(
        &self,
        org: &loyalty_core::domain::Organization,
        look: &loyalty_core::service::wallet::apple::ShopLook,
        customer: &loyalty_core::domain::ledger::Customer,
        auth_token: &str,
        voided: bool,
    ) -> Result<Vec<u8>, PassSignError> {
        use loyalty_core::service::wallet::apple;
        let pass = apple::pass_json(
            &self.issuer,
            org,
            customer,
            &look.colours,
            auth_token,
            voided,
        );
        let pass = serde_json::to_vec(&pass).map_err(|e| PassSignError::Sign(e.to_string()))?;
        let mut files: Vec<(&str, &[u8])> = vec![
            ("pass.json", pass.as_slice()),
            ("icon.png", self.icon.0.as_slice()),
            ("icon@2x.png", self.icon.1.as_slice()),
        ];
        if let Some(logo) = &look.logo_png {
            files.push(("logo.png", logo.as_slice()));
            files.push(("logo@2x.png", logo.as_slice()));
        }
        self.signer.package(&files)
    }
}
