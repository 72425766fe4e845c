//! Keyed pseudonymisation of IP addresses for outputs meant for analysis or sharing.
//!
//! An address is replaced by another address of the same family derived from
//! BLAKE3 in keyed mode: IPv4 → `10.a.b.c` (24 bits of the hash), IPv6 → `fdxx:…`
//! (120 bits). The same key maps the same address to the same pseudonym, so flows of one
//! host stay linkable within (and, with a shared key, across) outputs, while the original
//! cannot be recovered without the key: hashing all 2³² IPv4 addresses needs it.
//! The exact construction is in `formats/features.md#addresses`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Domain separation for [`blake3::derive_key`]: a key file's bytes become the hash key.
const KEY_CONTEXT: &str = "flowmine 2026-11 address pseudonymisation v1";

#[derive(Clone)]
pub struct Anonymiser {
    key: [u8; 32],
}

impl std::fmt::Debug for Anonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is the secret that protects the addresses: never print it.
        f.write_str("Anonymiser { key: <hidden> }")
    }
}

impl Anonymiser {
    /// A key derived from arbitrary key material (e.g. the bytes of a key file).
    pub fn from_key_material(material: &[u8]) -> Anonymiser {
        Anonymiser { key: blake3::derive_key(KEY_CONTEXT, material) }
    }

    /// A fresh random key: pseudonyms are consistent within this run only.
    pub fn random() -> std::io::Result<Anonymiser> {
        let mut material = [0u8; 32];
        getrandom::fill(&mut material).map_err(|e| std::io::Error::other(format!("no random key: {e}")))?;
        Ok(Anonymiser::from_key_material(&material))
    }

    /// The pseudonym of `addr`.
    pub fn pseudonym(&self, addr: IpAddr) -> IpAddr {
        // The family byte keeps ::ffff:a.b.c.d and a.b.c.d apart.
        let mut input = [0u8; 17];
        let len = match addr {
            IpAddr::V4(a) => {
                input[0] = 4;
                input[1..5].copy_from_slice(&a.octets());
                5
            }
            IpAddr::V6(a) => {
                input[0] = 6;
                input[1..17].copy_from_slice(&a.octets());
                17
            }
        };
        let hash = blake3::keyed_hash(&self.key, &input[..len]);
        let h = hash.as_bytes();
        match addr {
            IpAddr::V4(_) => Ipv4Addr::new(10, h[0], h[1], h[2]).into(),
            IpAddr::V6(_) => {
                let mut octets = [0u8; 16];
                octets[0] = 0xfd;
                octets[1..].copy_from_slice(&h[..15]);
                Ipv6Addr::from(octets).into()
            }
        }
    }

    /// The pseudonym of an address written as text; text that is not an address (it
    /// should not occur in a store) becomes the pseudonym of its bytes, as IPv6.
    pub fn pseudonym_text(&self, text: &str) -> String {
        match text.parse::<IpAddr>() {
            Ok(addr) => self.pseudonym(addr).to_string(),
            Err(_) => {
                let hash = blake3::keyed_hash(&self.key, text.as_bytes());
                let mut octets = [0u8; 16];
                octets[0] = 0xfd;
                octets[1..].copy_from_slice(&hash.as_bytes()[..15]);
                Ipv6Addr::from(octets).to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_stable_and_keep_the_family() {
        let a = Anonymiser::from_key_material(b"campus-2026");
        let b = Anonymiser::from_key_material(b"another key");
        let v4: IpAddr = "192.168.2.100".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(a.pseudonym(v4), a.pseudonym(v4));
        assert_ne!(a.pseudonym(v4), b.pseudonym(v4));
        assert_ne!(a.pseudonym(v4), v4);
        assert!(matches!(a.pseudonym(v4), IpAddr::V4(p) if p.octets()[0] == 10));
        assert!(matches!(a.pseudonym(v6), IpAddr::V6(p) if p.octets()[0] == 0xfd));
        assert_eq!(a.pseudonym_text("192.168.2.100"), a.pseudonym(v4).to_string());
        assert!(!format!("{a:?}").contains(&format!("{:?}", a.key)));
    }
}
