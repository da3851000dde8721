//! Numbers written the way JavaScript writes them (`Number.prototype.toString`).
//!
//! Why: the reference implementations are JavaScript, where `1.0` is the number `1`
//! and `JSON.stringify(1e21)` is `1e+21`. Writing floats the same way keeps our
//! encodings byte-identical to theirs (so test vectors from the reference match) and
//! turns numeric event names and map keys into the strings a JS server would use.

use std::fmt::{self, Write as _};

/// A number formatted on the stack; the longest output is 26 bytes
/// (`-0.000001234567890123456789` style: sign, `0.`, six zeros, 17 digits).
pub(crate) struct JsNumber {
    buf: [u8; 32],
    len: usize,
}

impl JsNumber {
    pub(crate) fn new(v: f64) -> Self {
        let mut out = JsNumber {
            buf: [0; 32],
            len: 0,
        };
        // Writing at most 26 bytes into 32 cannot fail.
        let _ = out.format(v);
        out
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII is ever written.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }

    fn format(&mut self, v: f64) -> fmt::Result {
        if v.is_nan() {
            return self.write_str("NaN");
        }
        if v.is_infinite() {
            return self.write_str(if v < 0.0 { "-Infinity" } else { "Infinity" });
        }
        if v == 0.0 {
            // Also -0, which JavaScript prints as "0".
            return self.write_str("0");
        }
        if v < 0.0 {
            self.write_str("-")?;
        }
        // Rust's `{:e}` gives the shortest digits that round-trip, like JavaScript.
        let mut sci = JsNumber {
            buf: [0; 32],
            len: 0,
        };
        write!(sci, "{:e}", v.abs())?;
        let sci = sci.as_str();
        let (mantissa, exponent) = sci.split_once('e').ok_or(fmt::Error)?;
        let exponent: i32 = exponent.parse().map_err(|_| fmt::Error)?;
        let mut digits = [0u8; 20];
        let mut k = 0;
        for b in mantissa.bytes().filter(u8::is_ascii_digit) {
            *digits.get_mut(k).ok_or(fmt::Error)? = b;
            k += 1;
        }
        let digits =
            std::str::from_utf8(digits.get(..k).ok_or(fmt::Error)?).map_err(|_| fmt::Error)?;
        if digits.is_empty() {
            return Err(fmt::Error);
        }
        // The value is 0.d1d2…dk × 10^n.
        let n = exponent + 1;
        let k = k as i32;
        if k <= n && n <= 21 {
            self.write_str(digits)?;
            for _ in 0..n - k {
                self.write_str("0")?;
            }
        } else if 0 < n && n <= 21 {
            let (int, frac) = digits.split_at(n as usize);
            self.write_str(int)?;
            self.write_str(".")?;
            self.write_str(frac)?;
        } else if -6 < n && n <= 0 {
            self.write_str("0.")?;
            for _ in 0..-n {
                self.write_str("0")?;
            }
            self.write_str(digits)?;
        } else {
            let (first, rest) = digits.split_at(1);
            self.write_str(first)?;
            if !rest.is_empty() {
                self.write_str(".")?;
                self.write_str(rest)?;
            }
            let e = n - 1;
            write!(
                self,
                "e{}{}",
                if e < 0 { '-' } else { '+' },
                e.unsigned_abs()
            )?;
        }
        Ok(())
    }
}

impl fmt::Write for JsNumber {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `String(v)` in JavaScript.
pub(crate) fn f64_to_js_string(v: f64) -> String {
    JsNumber::new(v).as_str().to_owned()
}

/// `String(n)` for a JSON number: integers as they are, floats as JavaScript writes
/// them (`1.0` → `"1"`).
pub(crate) fn number_to_js_string(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if !n.is_u64() && !n.is_i64() => f64_to_js_string(f),
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings from node: `String(x)` for each input.
    #[test]
    fn matches_javascript() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e21, "1e+21"),
            (1.2345e22, "1.2345e+22"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (-1234.5678, "-1234.5678"),
            (1e20, "100000000000000000000"),
            (9007199254740993.0, "9007199254740992"),
            (-0.000123, "-0.000123"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for &(v, want) in cases {
            assert_eq!(JsNumber::new(v).as_str(), want, "{v:e}");
        }
    }
}
