//! The JSON reader of token headers and claims (docs/FORMAT.md §6 "JSON text"). Written by
//! hand rather than with serde so that every rule is the specification's, not a library
//! default: the whole text is UTF-8, RFC 8259's grammar with nothing added, no member name
//! twice in any object at any depth, strings of Unicode scalar values (an escaped lone
//! surrogate is refused), at most [`super::MAX_JSON_DEPTH`] levels of nesting, and integers only as
//! plain digits. Number values other than such integers are never needed, so they are
//! checked against the grammar and not converted.

use std::collections::BTreeMap;

use super::MAX_JSON_DEPTH as MAX_DEPTH;

/// A JSON value as the token checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// A number written as digits alone (no sign, fraction or exponent) below 2^64.
    Integer(u64),
    /// Any other number: with a minus sign (`-0` too), a fraction or an exponent, or too
    /// large for `u64`.
    OtherNumber,
    String(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

/// Why a text is not acceptable JSON; a fixed phrase, never the text itself.
pub(crate) type JsonError = &'static str;

/// Reads `bytes` as a JSON text whose value is an object.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<BTreeMap<String, Json>, JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|_| "JSON text is not UTF-8")?;
    let mut reader = Reader { text, at: 0 };
    reader.skip_whitespace();
    if reader.peek() != Some(b'{') {
        return Err("JSON text is not an object");
    }
    let Json::Object(members) = reader.value(1)? else {
        return Err("JSON text is not an object");
    };
    reader.skip_whitespace();
    if reader.at != text.len() {
        return Err("JSON text has characters after its value");
    }
    Ok(members)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Result<u8, JsonError> {
        let byte = self.peek().ok_or("JSON text ends early")?;
        self.at += 1;
        Ok(byte)
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.next()? == byte {
            Ok(())
        } else {
            Err("JSON text breaks the grammar")
        }
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// The value starting here; `depth` is the level a container starting here would have.
    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        match self.peek().ok_or("JSON text ends early")? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Json::String),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err("JSON text breaks the grammar"),
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, JsonError> {
        let end = self.at + word.len();
        if self.text.get(self.at..end) != Some(word) {
            return Err("JSON text breaks the grammar");
        }
        self.at = end;
        Ok(value)
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err("JSON text is nested too deeply");
        }
        self.expect(b'{')?;
        let mut members = BTreeMap::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err("JSON text breaks the grammar");
            }
            let name = self.string()?;
            self.skip_whitespace();
            self.expect(b':')?;
            self.skip_whitespace();
            let value = self.value(depth + 1)?;
            if members.insert(name, value).is_some() {
                return Err("JSON object has a member name twice");
            }
            self.skip_whitespace();
            match self.next()? {
                b',' => {}
                b'}' => return Ok(Json::Object(members)),
                _ => return Err("JSON text breaks the grammar"),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err("JSON text is nested too deeply");
        }
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.next()? {
                b',' => {}
                b']' => return Ok(Json::Array(items)),
                _ => return Err("JSON text breaks the grammar"),
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control character at once:
            // those are ASCII, so the run ends on a character boundary of the valid text.
            let start = self.at;
            while matches!(self.peek(), Some(byte) if byte != b'"' && byte != b'\\' && byte >= 0x20)
            {
                self.at += 1;
            }
            out.push_str(
                self.text
                    .get(start..self.at)
                    .ok_or("JSON text ends early")?,
            );
            match self.next()? {
                b'"' => return Ok(out),
                b'\\' => out.push(self.escape()?),
                _ => return Err("JSON string holds a control character"),
            }
        }
    }

    /// The character of the escape after a backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        Ok(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        if self.next()? != b'\\' || self.next()? != b'u' {
                            return Err("JSON string escapes a lone surrogate");
                        }
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err("JSON string escapes a lone surrogate");
                        }
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        char::from_u32(code).ok_or("JSON string escapes a lone surrogate")?
                    }
                    0xDC00..=0xDFFF => return Err("JSON string escapes a lone surrogate"),
                    _ => char::from_u32(unit).ok_or("JSON string escapes a lone surrogate")?,
                }
            }
            _ => return Err("JSON string has an invalid escape"),
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = char::from(self.next()?)
                .to_digit(16)
                .ok_or("JSON string has an invalid escape")?;
            value = value * 16 + digit;
        }
        Ok(value)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return Err("JSON number breaks the grammar"),
        }
        let integer_end = self.at;
        let mut plain = !negative;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.at_least_one_digit()?;
            plain = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.at_least_one_digit()?;
            plain = false;
        }
        if !plain {
            return Ok(Json::OtherNumber);
        }
        Ok(self
            .text
            .get(start..integer_end)
            .and_then(|digits| digits.parse::<u64>().ok())
            .map_or(Json::OtherNumber, Json::Integer))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn at_least_one_digit(&mut self) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err("JSON number breaks the grammar");
        }
        self.digits();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(text: &str) -> Result<Json, JsonError> {
        parse_object(format!(r#"{{"m":{text}}}"#).as_bytes()).map(|mut m| m.remove("m").unwrap())
    }

    #[test]
    fn numbers_are_integers_only_as_plain_digits() {
        assert_eq!(member("0"), Ok(Json::Integer(0)));
        assert_eq!(member("1767225600"), Ok(Json::Integer(1_767_225_600)));
        assert_eq!(member("18446744073709551615"), Ok(Json::Integer(u64::MAX)));
        for other in [
            "-0",
            "-1",
            "1.0",
            "1e9",
            "1E+2",
            "0e0",
            "-0.0",
            "18446744073709551616",
            "1e400",
            &format!("1{}", "0".repeat(400)),
        ] {
            assert_eq!(member(other), Ok(Json::OtherNumber), "{other}");
        }
        for bad in [
            "01",
            "+1",
            "1.",
            ".5",
            "1e",
            "1e+",
            "-",
            "0x10",
            "NaN",
            "Infinity",
            "-Infinity",
        ] {
            assert!(member(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strings_are_unicode_scalar_values() {
        assert_eq!(
            member(r#""a\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00é""#),
            Ok(Json::String("a\"\\/\u{8}\u{c}\n\r\té😀é".into()))
        );
        for bad in [
            r#""\ud800""#,
            r#""\ud800x""#,
            r#""\ud800\u0041""#,
            r#""\udc00""#,
            r#""\x""#,
            r#""\u12g4""#,
            "\"a\u{1}\"",
            "\"tab\there\"",
            r#""open"#,
        ] {
            assert!(member(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_object(b"{\"m\":\"\xff\"}"),
            Err("JSON text is not UTF-8")
        );
        assert_eq!(
            parse_object(b"{\"m\":\"\xed\xa0\x80\"}"),
            Err("JSON text is not UTF-8"),
            "a surrogate encoded in UTF-8"
        );
    }

    #[test]
    fn duplicate_names_are_refused_at_every_depth() {
        for bad in [
            r#"{"a":1,"a":1}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"x":{"b":1,"b":2}}"#,
            r#"{"x":[{"b":1,"b":2}]}"#,
        ] {
            assert_eq!(
                parse_object(bad.as_bytes()),
                Err("JSON object has a member name twice"),
                "{bad}"
            );
        }
        assert!(parse_object(br#"{"x":[{"b":1},{"b":2}],"b":3}"#).is_ok());
    }

    #[test]
    fn the_grammar_and_nothing_else() {
        for good in [
            "{}",
            " \t\r\n{ \"a\" : [ 1 , true , false , null , { } , [ ] ] } \n",
        ] {
            assert!(parse_object(good.as_bytes()).is_ok(), "{good}");
        }
        for bad in [
            "",
            "[]",
            "\"text\"",
            "{\"a\":1,}",
            "{\"a\":[1,]}",
            "{a:1}",
            "{'a':1}",
            "{\"a\":1}x",
            "{\"a\":1}{}",
            "\u{feff}{}",
            "{\"a\":tru}",
            "{\"a\":1 /* comment */}",
            "{\"a\"\u{a0}:1}",
        ] {
            assert!(parse_object(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nesting_stops_at_the_limit() {
        let nested = |levels: usize| {
            // The object is level 1; each array adds one.
            let arrays = levels - 1;
            format!("{{\"a\":{}{}}}", "[".repeat(arrays), "]".repeat(arrays))
        };
        assert!(parse_object(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(
            parse_object(nested(MAX_DEPTH + 1).as_bytes()),
            Err("JSON text is nested too deeply")
        );
        assert!(parse_object(nested(3000).as_bytes()).is_err());
    }
}
