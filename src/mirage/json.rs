//! JSON as MIRAGE's files hold it: Python's `json.dumps` writes the non-finite floats as the
//! bare literals `NaN`, `Infinity` and `-Infinity`, which strict JSON (and serde_json) has
//! not. [`NonFinite`] turns them into the strings `"NaN"`, `"Infinity"`, `"-Infinity"` as
//! the file streams in; [`Float`] reads a number, one of those strings, or `null` (NaN).
//! Writing goes the other way through [`write_f64`].

use std::io::{self, BufRead, Read, Write};

use serde::{Deserialize, Deserializer};

/// A reader that quotes the bare non-finite literals outside JSON strings. Lines stay
/// where they are; columns after a literal move right by 2.
pub struct NonFinite<R> {
    inner: R,
    in_string: bool,
    escaped: bool,
    /// Letters of a literal still to copy before its closing quote.
    literal_left: u8,
    /// A `-` outside a string whose next byte decides whether it starts `-Infinity`.
    minus: bool,
    out: Vec<u8>,
    out_pos: usize,
}

impl<R: BufRead> NonFinite<R> {
    pub fn new(inner: R) -> NonFinite<R> {
        NonFinite {
            inner,
            in_string: false,
            escaped: false,
            literal_left: 0,
            minus: false,
            out: Vec::new(),
            out_pos: 0,
        }
    }

    /// Translates the next buffered input into `self.out`; false at the end of the input.
    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.out_pos = 0;
        let input = self.inner.fill_buf()?;
        if input.is_empty() {
            if self.minus {
                self.out.push(b'-');
                self.minus = false;
            }
            if self.literal_left > 0 {
                // A truncated literal: let the parser report the broken string.
                self.literal_left = 0;
            }
            return Ok(!self.out.is_empty());
        }
        let used = input.len();
        for &b in input {
            if self.literal_left > 0 {
                self.out.push(b);
                self.literal_left -= 1;
                if self.literal_left == 0 {
                    self.out.push(b'"');
                }
                continue;
            }
            if self.in_string {
                self.out.push(b);
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            let minus = std::mem::take(&mut self.minus);
            match b {
                b'N' | b'I' => {
                    self.out.push(b'"');
                    if minus {
                        self.out.push(b'-');
                    }
                    self.out.push(b);
                    // The letters after the first: "aN" of NaN, "nfinity" of Infinity.
                    self.literal_left = if b == b'N' { 2 } else { 7 };
                }
                b'-' => {
                    if minus {
                        self.out.push(b'-');
                    }
                    self.minus = true;
                }
                _ => {
                    if minus {
                        self.out.push(b'-');
                    }
                    if b == b'"' {
                        self.in_string = true;
                    }
                    self.out.push(b);
                }
            }
        }
        self.inner.consume(used);
        Ok(true)
    }
}

impl<R: BufRead> Read for NonFinite<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos == self.out.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// A float of a MIRAGE file: a number, a non-finite literal, or `null` (read as NaN).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Float(pub f64);

impl Float {
    /// The value, `None` for NaN (the features table's null).
    pub fn value(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }
}

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Float, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Float;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, NaN, Infinity, -Infinity or null")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Float, E> {
                Ok(Float(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_unit<E>(self) -> Result<Float, E> {
                Ok(Float(f64::NAN))
            }
            fn visit_none<E>(self) -> Result<Float, E> {
                Ok(Float(f64::NAN))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Float, E> {
                match v {
                    "NaN" => Ok(Float(f64::NAN)),
                    "Infinity" => Ok(Float(f64::INFINITY)),
                    "-Infinity" => Ok(Float(f64::NEG_INFINITY)),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Writes `v` as Python's `json.dumps` would be read back: finite values as JSON numbers,
/// the others as the bare literals `NaN`, `Infinity`, `-Infinity`.
pub fn write_f64(w: &mut impl Write, v: f64) -> io::Result<()> {
    if v.is_nan() {
        w.write_all(b"NaN")
    } else if v == f64::INFINITY {
        w.write_all(b"Infinity")
    } else if v == f64::NEG_INFINITY {
        w.write_all(b"-Infinity")
    } else {
        serde_json::to_writer(w, &v).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(text: &str, chunk: usize) -> String {
        // A tiny buffer so that literals straddle refills.
        let reader = io::BufReader::with_capacity(chunk, text.as_bytes());
        let mut out = String::new();
        NonFinite::new(reader).read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn bare_literals_become_strings_outside_strings_only() {
        let text = r#"{"a": NaN, "b": [Infinity, -Infinity, -1.5, 2], "NaN \" Infinity": "-Infinity", "c": null}"#;
        let want =
            r#"{"a": "NaN", "b": ["Infinity", "-Infinity", -1.5, 2], "NaN \" Infinity": "-Infinity", "c": null}"#;
        for chunk in [1, 2, 3, 7, 1024] {
            assert_eq!(translate(text, chunk), want, "buffer of {chunk}");
        }
    }

    #[test]
    fn floats_read_numbers_literals_and_null() {
        let text = translate("[1, 2.5, NaN, Infinity, -Infinity, null, -0.25]", 4);
        let v: Vec<Float> = serde_json::from_str(&text).unwrap();
        assert_eq!(v[..2], [Float(1.0), Float(2.5)]);
        assert!(v[2].0.is_nan() && v[5].0.is_nan());
        assert_eq!((v[3].0, v[4].0, v[6].0), (f64::INFINITY, f64::NEG_INFINITY, -0.25));
        assert!(serde_json::from_str::<Float>("\"nan\"").is_err());
    }

    #[test]
    fn written_floats_read_back() {
        let mut out = Vec::new();
        for v in [0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 3.0] {
            write_f64(&mut out, v).unwrap();
            out.push(b' ');
        }
        assert_eq!(String::from_utf8(out).unwrap(), "0.1 NaN Infinity -Infinity 3.0 ");
    }
}
