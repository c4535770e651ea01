//! Finagle's canonical printing of name trees (`NameTree.show`).

use std::fmt;

use super::tree::NameTree;

/// Formats a union weight exactly as Java's `String.format("%.2f", w)` does.
///
/// The JVM rounds the shortest decimal representation of the double half-up, where
/// Rust's `{:.2}` rounds the exact binary value: `2.675` prints `2.68` on the JVM and
/// `2.67` with `{:.2}`. Dtabs printed by Linkerd 1 must print the same here.
pub fn format_weight(w: f64) -> String {
    if w.is_nan() {
        return "NaN".into();
    }
    if w.is_infinite() {
        return if w > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // `{:e}` gives the shortest round-tripping digits, d.ddd * 10^exp: "2.675e0", "1e-5".
    let sci = format!("{:e}", w.abs());
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i64 = exp.parse().expect("integer exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // Write it out in plain decimal, then keep two fraction digits rounding half-up.
    let (int, frac) = if exp >= 0 {
        let point = exp as usize + 1;
        let padded = format!("{digits:0<point$}");
        (padded[..point].to_string(), padded[point..].to_string())
    } else {
        (
            "0".to_string(),
            format!("{}{digits}", "0".repeat((-exp - 1) as usize)),
        )
    };
    let frac = format!("{frac:0<3}");
    let mut kept: Vec<u8> = int
        .bytes()
        .chain(frac.bytes().take(2))
        .map(|b| b - b'0')
        .collect();
    if frac.as_bytes()[2] >= b'5' {
        let mut carry = true;
        for d in kept.iter_mut().rev() {
            if *d == 9 {
                *d = 0;
            } else {
                *d += 1;
                carry = false;
                break;
            }
        }
        if carry {
            kept.insert(0, 1);
        }
    }
    let text: String = kept.iter().map(|d| char::from(b'0' + d)).collect();
    let (int, frac) = text.split_at(text.len() - 2);
    let sign = if w.is_sign_negative() && text.bytes().any(|b| b != b'0') {
        "-"
    } else {
        ""
    };
    format!("{sign}{int}.{frac}")
}

fn is_multi<T>(t: &NameTree<T>) -> bool {
    matches!(t, NameTree::Alt(ts) if ts.len() >= 2)
        || matches!(t, NameTree::Union(ws) if ws.len() >= 2)
}

/// The child of a one-child `Alt` or `Union`, which prints as the child itself.
fn transparent<T>(t: &NameTree<T>) -> &NameTree<T> {
    match t {
        NameTree::Alt(ts) if ts.len() == 1 => transparent(&ts[0]),
        NameTree::Union(ws) if ws.len() == 1 => transparent(&ws[0].tree),
        t => t,
    }
}

fn show<T: fmt::Display>(f: &mut fmt::Formatter<'_>, t: &NameTree<T>) -> fmt::Result {
    match transparent(t) {
        NameTree::Alt(ts) if ts.len() >= 2 => {
            for (i, t) in ts.iter().enumerate() {
                if i > 0 {
                    f.write_str(" | ")?;
                }
                show1(f, t)?;
            }
            Ok(())
        }
        t => show1(f, t),
    }
}

fn show1<T: fmt::Display>(f: &mut fmt::Formatter<'_>, t: &NameTree<T>) -> fmt::Result {
    match transparent(t) {
        NameTree::Union(ws) if ws.len() >= 2 => {
            for (i, w) in ws.iter().enumerate() {
                if i > 0 {
                    f.write_str(" & ")?;
                }
                if w.weight != 1.0 {
                    write!(f, "{}*", format_weight(w.weight))?;
                }
                show_simple(f, &w.tree)?;
            }
            Ok(())
        }
        t => show_simple(f, t),
    }
}

fn show_simple<T: fmt::Display>(f: &mut fmt::Formatter<'_>, t: &NameTree<T>) -> fmt::Result {
    match transparent(t) {
        t if is_multi(t) => {
            f.write_str("(")?;
            show(f, t)?;
            f.write_str(")")
        }
        NameTree::Leaf(v) => write!(f, "{v}"),
        NameTree::Fail => f.write_str("!"),
        NameTree::Neg | NameTree::Alt(_) | NameTree::Union(_) => f.write_str("~"),
        NameTree::Empty => f.write_str("$"),
    }
}

impl<T: fmt::Display> fmt::Display for NameTree<T> {
    /// Finagle's `NameTree.show`: `|` between alternatives, `&` between union members,
    /// weights other than 1.0 as `%.2f*`, parentheses around nested groups.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        show(f, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::Path;

    #[test]
    fn weights_round_like_java() {
        let cases = [
            (0.125, "0.13"),
            (2.675, "2.68"),
            (1.005, "1.01"),
            (0.005, "0.01"),
            (1e-5, "0.00"),
            (3.0, "3.00"),
            (0.5, "0.50"),
            (0.0, "0.00"),
            (99.995, "100.00"),
            (9.999, "10.00"),
            (123456.789, "123456.79"),
            (1e20, "100000000000000000000.00"),
            (0.994, "0.99"),
            (f64::INFINITY, "Infinity"),
        ];
        for (w, want) in cases {
            assert_eq!(format_weight(w), want, "{w}");
        }
    }

    #[test]
    fn shows_finagle_examples() {
        let t = |s: &str| NameTree::read(s).unwrap().to_string();
        assert_eq!(
            t("1 * /foo & 2 * /bar | .5 * /bar & .5 * /baz"),
            "/foo & 2.00*/bar | 0.50*/bar & 0.50*/baz"
        );
        assert_eq!(t("/biz | /bliz & /bluth"), "/biz | /bliz & /bluth");
        assert_eq!(t("(/a | /b) & /c"), "(/a | /b) & /c");
        assert_eq!(t("/a | (/b | /c)"), "/a | (/b | /c)");
        assert_eq!(t("(/a & /b) & /c"), "(/a & /b) & /c");
        assert_eq!(t("! | ~ | $"), "! | ~ | $");
        assert_eq!(t("/$"), "/$");
        let one_child: NameTree<Path> =
            NameTree::Alt(vec![NameTree::Union(vec![crate::naming::Weighted::new(
                2.0,
                NameTree::read("/a | /b").unwrap(),
            )])]);
        assert_eq!(one_child.to_string(), "/a | /b");
    }
}
