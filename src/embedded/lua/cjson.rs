//! `cjson.decode` and `cjson.encode`, behaving like the lua-cjson 2.1 Redis bundles: its
//! tokens and error messages (`Expected value but found T_END at character 1`), `null` as the
//! `cjson.null` light userdata, numbers printed with `%.14g`, `/` escaped, empty tables as
//! `{}`, and its array rules (keys 1..n, refused when excessively sparse).
//! Each returns the result or the message; the native wrapper (`native.rs`) raises it.

use mlua::{LightUserData, Lua, Table, Value};

use crate::embedded::number::fmt_g;

/// Deepest nesting either way (lua-cjson's default).
const MAX_DEPTH: usize = 1000;

enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(Vec<u8>),
    Arr(Vec<Json>),
    Obj(Vec<(Vec<u8>, Json)>),
}

enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(msg) => msg,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    /// The next token and where it starts.
    fn next(&mut self) -> (Tok, usize) {
        while self.s.get(self.pos).is_some_and(|c| b" \t\n\r".contains(c)) {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(&c) = self.s.get(at) else {
            return (Tok::End, at);
        };
        let simple = match c {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b':' => Some(Tok::Colon),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(tok) = simple {
            self.pos += 1;
            return (tok, at);
        }
        let rest = &self.s[at..];
        let tok = if c == b'"' {
            self.string()
        } else if c == b'-' || c.is_ascii_digit() {
            self.number()
        } else if rest.starts_with(b"true") {
            self.pos += 4;
            Tok::Bool(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Tok::Bool(false)
        } else if rest.starts_with(b"null") {
            self.pos += 4;
            Tok::Null
        } else {
            Tok::Error("invalid token")
        };
        // lua-cjson reports an error where it stopped reading (inside a string, say).
        let at = if matches!(tok, Tok::Error(_)) {
            self.pos
        } else {
            at
        };
        (tok, at)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = std::str::from_utf8(self.s.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    }

    fn string(&mut self) -> Tok {
        let mut out = Vec::new();
        let mut i = self.pos + 1;
        loop {
            let Some(&c) = self.s.get(i) else {
                self.pos = i;
                return Tok::Error("unexpected end of string");
            };
            match c {
                b'"' => break,
                b'\\' => {
                    self.pos = i;
                    let Some(&e) = self.s.get(i + 1) else {
                        return Tok::Error("invalid escape code");
                    };
                    let simple = match e {
                        b'"' | b'\\' | b'/' => Some(e),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        _ => None,
                    };
                    if let Some(b) = simple {
                        out.push(b);
                        i += 2;
                        continue;
                    }
                    if e != b'u' {
                        return Tok::Error("invalid escape code");
                    }
                    let Some(mut code) = self.hex4(i + 2) else {
                        return Tok::Error("invalid unicode escape code");
                    };
                    i += 6;
                    if (0xD800..0xDC00).contains(&code) {
                        let low = (self.s.get(i..i + 2) == Some(b"\\u"))
                            .then(|| self.hex4(i + 2))
                            .flatten()
                            .filter(|l| (0xDC00..0xE000).contains(l));
                        let Some(low) = low else {
                            return Tok::Error("invalid unicode escape code");
                        };
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        i += 6;
                    } else if (0xDC00..0xE000).contains(&code) {
                        return Tok::Error("invalid unicode escape code");
                    }
                    let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        Tok::Str(out)
    }

    /// The longest prefix `strtod` would read.
    fn number(&mut self) -> Tok {
        let run = self.s[self.pos..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
            .count();
        for len in (1..=run).rev() {
            let text = std::str::from_utf8(&self.s[self.pos..self.pos + len]).unwrap_or("");
            if let Ok(v) = text.parse::<f64>() {
                self.pos += len;
                return Tok::Num(v);
            }
        }
        Tok::Error("invalid number")
    }

    fn expected(what: &str, (tok, at): (Tok, usize)) -> String {
        format!(
            "Expected {what} but found {} at character {}",
            tok.name(),
            at + 1
        )
    }

    fn value(&mut self, (tok, at): (Tok, usize)) -> Result<Json, String> {
        match tok {
            Tok::Str(s) => Ok(Json::Str(s)),
            Tok::Num(n) => Ok(Json::Num(n)),
            Tok::Bool(b) => Ok(Json::Bool(b)),
            Tok::Null => Ok(Json::Null),
            Tok::ObjBegin | Tok::ArrBegin => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!(
                        "found too many nested data structures ({}) at character {}",
                        self.depth,
                        at + 1
                    ));
                }
                let v = if matches!(tok, Tok::ObjBegin) {
                    self.object()
                } else {
                    self.array()
                };
                self.depth -= 1;
                v
            }
            other => Err(Self::expected("value", (other, at))),
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        let mut fields = Vec::new();
        let mut tok = self.next();
        if matches!(tok.0, Tok::ObjEnd) {
            return Ok(Json::Obj(fields));
        }
        loop {
            let Tok::Str(key) = tok.0 else {
                return Err(Self::expected("object key string", tok));
            };
            let colon = self.next();
            if !matches!(colon.0, Tok::Colon) {
                return Err(Self::expected("colon", colon));
            }
            let first = self.next();
            fields.push((key, self.value(first)?));
            let sep = self.next();
            match sep.0 {
                Tok::ObjEnd => return Ok(Json::Obj(fields)),
                Tok::Comma => tok = self.next(),
                _ => return Err(Self::expected("comma or object end", sep)),
            }
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        let mut items = Vec::new();
        let mut tok = self.next();
        if matches!(tok.0, Tok::ArrEnd) {
            return Ok(Json::Arr(items));
        }
        loop {
            items.push(self.value(tok)?);
            let sep = self.next();
            match sep.0 {
                Tok::ArrEnd => return Ok(Json::Arr(items)),
                Tok::Comma => tok = self.next(),
                _ => return Err(Self::expected("comma or array end", sep)),
            }
        }
    }
}

fn to_lua(lua: &Lua, json: Json) -> mlua::Result<Value> {
    Ok(match json {
        Json::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
        Json::Bool(b) => Value::Boolean(b),
        Json::Num(n) => Value::Number(n),
        Json::Str(s) => Value::String(lua.create_string(s)?),
        Json::Arr(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        Json::Obj(fields) => {
            let t = lua.create_table_with_capacity(0, fields.len())?;
            for (k, v) in fields {
                t.raw_set(lua.create_string(k)?, to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
    })
}

/// `cjson.decode(text)`.
pub(super) fn decode(lua: &Lua, text: Value) -> mlua::Result<Result<Value, String>> {
    let bytes = match &text {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(n) => fmt_g(*n as f64, 14).into_bytes(),
        Value::Number(n) => fmt_g(*n, 14).into_bytes(),
        other => {
            let msg = format!(
                "bad argument #1 to 'decode' (string expected, got {})",
                other.type_name()
            );
            return Ok(Err(msg));
        }
    };
    let mut p = Parser {
        s: &bytes,
        pos: 0,
        depth: 0,
    };
    let first = p.next();
    let parsed = p.value(first).and_then(|v| match p.next() {
        (Tok::End, _) => Ok(v),
        other => Err(Parser::expected("the end", other)),
    });
    match parsed {
        Ok(v) => Ok(Ok(to_lua(lua, v)?)),
        Err(msg) => Ok(Err(msg)),
    }
}

fn escape(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            8 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            12 => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=31 | 127 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

fn number(n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !n.is_finite() {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    out.extend_from_slice(fmt_g(n, 14).as_bytes());
    Ok(())
}

/// The table's array length by lua-cjson's rules: `None` when it is not an array.
fn array_len(t: &Table) -> Result<Option<usize>, String> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let index = match k {
            Value::Integer(i) => usize::try_from(i).ok().filter(|&i| i >= 1),
            Value::Number(n) if n.fract() == 0.0 && n >= 1.0 => Some(n as usize),
            _ => None,
        };
        let Some(index) = index else { return Ok(None) };
        max = max.max(index);
        items += 1;
    }
    if max > 10 && max > items * 2 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn encode_value(v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => number(*i as f64, out)?,
        Value::Number(n) => number(*n, out)?,
        Value::String(s) => escape(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                ));
            }
            match array_len(t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                        encode_value(&item, depth + 1, out)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, item) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => escape(&s.as_bytes(), out),
                            Value::Integer(i) => escape(fmt_g(*i as f64, 14).as_bytes(), out),
                            Value::Number(n) => escape(fmt_g(*n, 14).as_bytes(), out),
                            other => {
                                return Err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    other.type_name()
                                ));
                            }
                        }
                        out.push(b':');
                        encode_value(&item, depth + 1, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    }
    Ok(())
}

/// `cjson.encode(value)`.
pub(super) fn encode(lua: &Lua, value: Value) -> mlua::Result<Result<Value, String>> {
    let mut out = Vec::new();
    match encode_value(&value, 0, &mut out) {
        Ok(()) => Ok(Ok(Value::String(lua.create_string(out)?))),
        Err(msg) => Ok(Err(msg)),
    }
}
