//! Certificates made at test time: a CA with a server and a client leaf, and the odd ones a
//! mutual-TLS server must refuse (a client from another CA, an expired client).
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A certificate and its key, both PEM.
pub type Leaf = (String, String);

/// A CA and leaves it signed.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// A server certificate for `localhost`.
    pub server: Leaf,
    /// A client certificate.
    pub client: Leaf,
}

impl Pki {
    /// A new CA, named apart from every other one made in this process, with a server leaf for
    /// `localhost` and a client leaf.
    pub fn new() -> Pki {
        static MADE: AtomicU32 = AtomicU32::new(0);
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("flowgate test CA {n}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_pem = ca.pem();
        let mut pki = Pki {
            ca,
            ca_pem,
            server: (String::new(), String::new()),
            client: (String::new(), String::new()),
        };
        pki.server = pki.leaf("localhost");
        pki.client = pki.leaf("bbs-client");
        pki
    }

    /// A leaf for `name`, signed by this CA and valid now.
    pub fn leaf(&self, name: &str) -> Leaf {
        self.sign(CertificateParams::new(vec![name.to_owned()]).unwrap())
    }

    /// A leaf for `name`, signed by this CA, that expired in 2001.
    pub fn expired_leaf(&self, name: &str) -> Leaf {
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}
