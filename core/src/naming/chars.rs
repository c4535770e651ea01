//! Character classes of Finagle's dtab grammar, as the JVM defines them.
//!
//! Finagle's parser runs on Java `char`s, so whitespace is `Character.isWhitespace` and a
//! weight digit is `Character.isDigit`; both differ from Rust's `char` predicates, and a
//! dtab that parses on Linkerd 1 must parse here the same way.

/// Whether `b` may appear unescaped in a path element (`Path.showableChars`).
pub(crate) fn is_showable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'#' | b'$' | b'%' | b'-')
}

/// Whether `c` may appear unescaped in a path element.
pub(crate) fn is_showable_char(c: char) -> bool {
    c.is_ascii() && is_showable(c as u8)
}

/// `java.lang.Character.isWhitespace`: Unicode space separators except the no-break
/// ones, line and paragraph separators, and the ASCII controls TAB, LF, VT, FF, CR and
/// FS, GS, RS, US. NEL (U+0085) is not whitespace on the JVM.
pub(crate) fn is_java_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{09}'..='\u{0d}'
            | '\u{1c}'..='\u{20}'
            | '\u{1680}'
            | '\u{2000}'..='\u{2006}'
            | '\u{2008}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// The zero of every run of decimal digits (Unicode category Nd) in the Basic
/// Multilingual Plane; a Java `char` cannot hold the others.
const DIGIT_ZEROS: &[u32] = &[
    0x0030, 0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66, 0x0ce6,
    0x0d66, 0x0de6, 0x0e50, 0x0ed0, 0x0f20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80,
    0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0,
    0xff10,
];

/// `java.lang.Character.digit(c, 10)` for a BMP character: its value if it is a decimal
/// digit of any script.
pub fn java_digit_value(c: char) -> Option<u32> {
    let c = c as u32;
    if (0x30..0x3a).contains(&c) {
        return Some(c - 0x30);
    }
    DIGIT_ZEROS
        .iter()
        .find(|&&z| c >= z && c < z + 10)
        .map(|&z| c - z)
}

/// `java.lang.Character.isDigit` for a BMP character.
pub(crate) fn is_java_digit(c: char) -> bool {
    let c = c as u32;
    if c < 0x80 {
        return (0x30..0x3a).contains(&c);
    }
    DIGIT_ZEROS.iter().any(|&z| c >= z && c < z + 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_follows_the_jvm() {
        for c in [
            '\t', '\n', '\u{0b}', '\u{0c}', '\r', ' ', '\u{1f}', '\u{2028}', '\u{3000}',
        ] {
            assert!(is_java_whitespace(c), "{c:?}");
        }
        for c in ['\u{a0}', '\u{2007}', '\u{202f}', '\u{85}', 'a', '#'] {
            assert!(!is_java_whitespace(c), "{c:?}");
        }
    }

    #[test]
    fn digits_follow_the_jvm() {
        assert!(is_java_digit('7'));
        assert!(is_java_digit('\u{663}'));
        assert!(!is_java_digit('.'));
        assert!(!is_java_digit('\u{b2}'), "superscript two is No, not Nd");
    }
}
