//! Helm's and sprig's serialisation, encoding, hashing, regular expression, path, version and
//! time functions, and the deterministic stand-ins for functions that would reach outside the
//! chart (`lookup`, `env`, `now`, `uuidv4`, certificate generation).
//!
//! Time is always the Unix epoch in UTC: `now` is 1970-01-01, and `date` formats its argument
//! only when that is a number of seconds since the epoch.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

use super::funcs::{Func, int_arg, string_arg, want};
use super::limits::MAX_DEPTH;
use super::semver;
use super::value::{Map, Val, format_float};
use super::yaml::{self, Style};

/// What `now` returns: Go's `time.Time` printed, at the epoch.
const EPOCH: &str = "1970-01-01 00:00:00 +0000 UTC";

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("adler32sum", |a| {
        str1(a, |s| adler32(s.as_bytes()).to_string())
    }),
    ("ago", |_| Ok("0s".into())),
    ("b32dec", |a| {
        str1(a, |s| base32_decode(s).unwrap_or_else(|e| e))
    }),
    ("b32enc", |a| str1(a, |s| base32_encode(s.as_bytes()))),
    ("b64dec", |a| {
        str1(a, |s| match STANDARD.decode(s) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => format!("illegal base64 data: {e}"),
        })
    }),
    ("b64enc", |a| str1(a, |s| STANDARD.encode(s))),
    ("base", |a| str1(a, |s| path_base(s).to_owned())),
    ("bcrypt", |_| Ok("".into())),
    ("buildCustomCert", |_| Ok(cert())),
    ("clean", |a| str1(a, path_clean)),
    ("date", |a| {
        want(a, 2)?;
        Ok(format_time(&string_arg(&a[0]), seconds(&a[1])).into())
    }),
    ("dateInZone", |a| {
        want(a, 3)?;
        Ok(format_time(&string_arg(&a[0]), seconds(&a[1])).into())
    }),
    ("dateModify", |_| Ok(EPOCH.into())),
    ("decryptAES", |_| Ok("".into())),
    ("derivePassword", |_| Ok("".into())),
    ("dir", |a| str1(a, path_dir)),
    ("duration", |a| {
        want(a, 1)?;
        Ok(duration(super::funcs::to_i64(&a[0])).into())
    }),
    ("encryptAES", |_| Ok("".into())),
    ("env", |_| Ok("".into())),
    ("expandenv", |_| Ok("".into())),
    ("ext", |a| {
        str1(a, |s| {
            let base = path_base(s);
            base.rfind('.').map_or("", |i| &base[i..]).to_owned()
        })
    }),
    ("fromJson", |a| from_text(a, false, Json)),
    ("fromJsonArray", |a| from_text(a, true, Json)),
    ("fromYaml", |a| from_text(a, false, Yaml)),
    ("fromYamlArray", |a| from_text(a, true, Yaml)),
    ("genCA", |_| Ok(cert())),
    ("genCAWithKey", |_| Ok(cert())),
    ("genPrivateKey", |_| Ok("".into())),
    ("genSelfSignedCert", |_| Ok(cert())),
    ("genSelfSignedCertWithKey", |_| Ok(cert())),
    ("genSignedCert", |_| Ok(cert())),
    ("genSignedCertWithKey", |_| Ok(cert())),
    ("getHostByName", |_| Ok("".into())),
    ("htmlDate", |a| {
        want(a, 1)?;
        Ok(format_time("2006-01-02", seconds(&a[0])).into())
    }),
    ("htmlDateInZone", |a| {
        want(a, 2)?;
        Ok(format_time("2006-01-02", seconds(&a[0])).into())
    }),
    ("htpasswd", |a| {
        want(a, 2)?;
        Ok(format!("{}:", string_arg(&a[0])).into())
    }),
    ("isAbs", |a| {
        want(a, 1)?;
        Ok(string_arg(&a[0]).starts_with('/').into())
    }),
    ("lookup", |_| Ok(Map::new().into())),
    ("mustDateModify", |_| Ok(EPOCH.into())),
    ("mustFromJson", |a| from_text(a, false, Json)),
    ("mustRegexFind", |a| regex_find(a, true)),
    ("mustRegexFindAll", |a| regex_find_all(a, true)),
    ("mustRegexMatch", |a| regex_match(a, true)),
    ("mustRegexReplaceAll", |a| regex_replace(a, false)),
    ("mustRegexReplaceAllLiteral", |a| regex_replace(a, true)),
    ("mustRegexSplit", |a| regex_split(a, true)),
    ("mustToDate", |_| Ok(EPOCH.into())),
    ("mustToJson", |a| to_json_fn(a, true, false)),
    ("mustToPrettyJson", |a| to_json_fn(a, true, true)),
    ("mustToRawJson", |a| to_json_fn(a, false, false)),
    ("mustToYaml", |a| to_yaml_fn(a, Style::Helm)),
    ("now", |_| Ok(EPOCH.into())),
    ("osBase", |a| str1(a, |s| path_base(s).to_owned())),
    ("osClean", |a| str1(a, path_clean)),
    ("osDir", |a| str1(a, path_dir)),
    ("osExt", |a| {
        str1(a, |s| {
            let base = path_base(s);
            base.rfind('.').map_or("", |i| &base[i..]).to_owned()
        })
    }),
    ("osIsAbs", |a| {
        want(a, 1)?;
        Ok(string_arg(&a[0]).starts_with('/').into())
    }),
    ("randBytes", |a| {
        want(a, 1)?;
        let n = usize::try_from(int_arg(&a[0])?).unwrap_or(0).min(1 << 20);
        Ok(STANDARD.encode(vec![0u8; n]).into())
    }),
    ("regexFind", |a| regex_find(a, false)),
    ("regexFindAll", |a| regex_find_all(a, false)),
    ("regexMatch", |a| regex_match(a, false)),
    ("regexQuoteMeta", |a| {
        str1(a, |s| {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                if "\\.+*?()|[]{}^$".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        })
    }),
    ("regexReplaceAll", |a| regex_replace(a, false)),
    ("regexReplaceAllLiteral", |a| regex_replace(a, true)),
    ("regexSplit", |a| regex_split(a, false)),
    ("semver", |a| {
        want(a, 1)?;
        let original = string_arg(&a[0]);
        let v = semver::parse_version(&original)?;
        let trimmed = original.trim_start_matches(['v', 'V']);
        let metadata = trimmed.split_once('+').map_or("", |(_, m)| m);
        let m = Map::from([
            ("Major".to_owned(), Val::Int(v.major as i64)),
            ("Minor".to_owned(), Val::Int(v.minor as i64)),
            ("Patch".to_owned(), Val::Int(v.patch as i64)),
            ("Prerelease".to_owned(), Val::from(v.pre.as_str())),
            ("Metadata".to_owned(), Val::from(metadata)),
            ("Original".to_owned(), Val::from(original.as_str())),
        ]);
        Ok(m.into())
    }),
    ("semverCompare", |a| {
        want(a, 2)?;
        semver::matches(&string_arg(&a[0]), &string_arg(&a[1])).map(Val::from)
    }),
    ("sha256sum", |a| {
        str1(a, |s| hex::encode(sha2::Sha256::digest(s.as_bytes())))
    }),
    ("sha512sum", |a| {
        str1(a, |s| hex::encode(sha2::Sha512::digest(s.as_bytes())))
    }),
    ("toDate", |_| Ok(EPOCH.into())),
    ("toJson", |a| to_json_fn(a, true, false)),
    ("toPrettyJson", |a| to_json_fn(a, true, true)),
    ("toRawJson", |a| to_json_fn(a, false, false)),
    ("toYaml", |a| to_yaml_fn(a, Style::Helm)),
    ("toYamlPretty", |a| to_yaml_fn(a, Style::Pretty)),
    ("unixEpoch", |_| Ok("0".into())),
    ("uuidv4", |_| {
        Ok("00000000-0000-4000-8000-000000000000".into())
    }),
];

fn str1(a: &[Val], f: impl Fn(&str) -> String) -> Result<Val, String> {
    want(a, 1)?;
    Ok(f(&string_arg(&a[0])).into())
}

/// What the certificate generators return: an empty certificate and key.
fn cert() -> Val {
    Map::from([
        ("Cert".to_owned(), Val::from("")),
        ("Key".to_owned(), Val::from("")),
    ])
    .into()
}

fn to_yaml_fn(a: &[Val], style: Style) -> Result<Val, String> {
    want(a, 1)?;
    yaml::to_yaml(&a[0], style).map(Val::from)
}

fn to_json_fn(a: &[Val], html_safe: bool, pretty: bool) -> Result<Val, String> {
    want(a, 1)?;
    let mut out = String::new();
    json(&mut out, &a[0], html_safe, pretty.then_some(0), 0)?;
    Ok(out.into())
}

/// Go's `encoding/json`: sorted keys, `<>&` escaped unless raw, floats without `.0`.
fn json(
    out: &mut String,
    v: &Val,
    html_safe: bool,
    indent: Option<usize>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("value nested more than {MAX_DEPTH} levels deep"));
    }
    let newline = |out: &mut String, level: usize| {
        if let Some(base) = indent {
            out.push('\n');
            out.push_str(&"  ".repeat(base + level));
        }
    };
    match v {
        Val::Nil => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Int(i) => out.push_str(&i.to_string()),
        Val::Float(f) => out.push_str(&json_float(*f)?),
        Val::Str(s) => json_string(out, s, html_safe),
        Val::List(l) if l.is_empty() => out.push_str("[]"),
        Val::List(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                json(out, item, html_safe, indent, depth + 1)?;
            }
            newline(out, depth);
            out.push(']');
        }
        Val::Map(_) => {
            let entries = v.entries();
            if entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                json_string(out, k, html_safe);
                out.push_str(if indent.is_some() { ": " } else { ":" });
                json(out, item, html_safe, indent, depth + 1)?;
            }
            newline(out, depth);
            out.push('}');
        }
    }
    Ok(())
}

fn json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!("json: unsupported value: {}", format_float(f)));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let e = format!("{f:e}");
        return Ok(match e.split_once('e') {
            Some((m, x)) if !x.starts_with('-') => format!("{m}e+{x}"),
            _ => e,
        });
    }
    Ok(format!("{f}"))
}

fn json_string(out: &mut String, s: &str, html_safe: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if html_safe => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Yaml,
}
use Format::{Json, Yaml};

/// `fromJson`/`fromYaml` (a map, or `{"Error": …}`) and their `…Array` forms (a list, or
/// `[error]`), as Helm tolerates bad input inside templates.
fn from_text(a: &[Val], array: bool, format: Format) -> Result<Val, String> {
    want(a, 1)?;
    let text = string_arg(&a[0]);
    let parsed = match format {
        Json => serde_json::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string()),
        Yaml => serde_saphyr::from_str_with_options::<serde_json::Value>(&text, yaml_options())
            .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_owned()),
    };
    let result = parsed.and_then(|v| match (v, array) {
        (serde_json::Value::Null, false) => Ok(Val::from(Map::new())),
        (serde_json::Value::Null, true) => Ok(Val::from(Vec::new())),
        (v @ serde_json::Value::Object(_), false) | (v @ serde_json::Value::Array(_), true) => {
            Val::from_json(&v)
        }
        (_, false) => Err("cannot unmarshal a non-map document into a map".to_owned()),
        (_, true) => Err("cannot unmarshal a non-list document into a list".to_owned()),
    });
    Ok(match result {
        Ok(v) => v,
        Err(e) if array => vec![Val::from(e)].into(),
        Err(e) => Map::from([("Error".to_owned(), Val::from(e))]).into(),
    })
}

/// go-yaml v2's reading, as Helm's `fromYaml` uses it: a repeated key keeps its last value,
/// and `012` is octal.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
        legacy_octal_numbers: true,
    }
}

fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| e.to_string())
}

fn regex_match(a: &[Val], must: bool) -> Result<Val, String> {
    want(a, 2)?;
    match compile(&string_arg(&a[0])) {
        Ok(re) => Ok(re.is_match(&string_arg(&a[1])).into()),
        Err(e) if must => Err(e),
        Err(_) => Ok(false.into()),
    }
}

fn regex_find(a: &[Val], must: bool) -> Result<Val, String> {
    want(a, 2)?;
    let s = string_arg(&a[1]);
    match compile(&string_arg(&a[0])) {
        Ok(re) => Ok(re.find(&s).map_or("", |m| m.as_str()).into()),
        Err(e) if must => Err(e),
        Err(_) => Ok("".into()),
    }
}

fn regex_find_all(a: &[Val], must: bool) -> Result<Val, String> {
    want(a, 3)?;
    let s = string_arg(&a[1]);
    let n = int_arg(&a[2])?;
    let limit = if n < 0 {
        usize::MAX
    } else {
        usize::try_from(n).unwrap_or(usize::MAX)
    };
    match compile(&string_arg(&a[0])) {
        Ok(re) => Ok(re
            .find_iter(&s)
            .take(limit)
            .map(|m| Val::from(m.as_str()))
            .collect::<Vec<_>>()
            .into()),
        Err(e) if must => Err(e),
        Err(_) => Ok(Vec::new().into()),
    }
}

fn regex_replace(a: &[Val], literal: bool) -> Result<Val, String> {
    want(a, 3)?;
    let re = compile(&string_arg(&a[0]))?;
    let (s, repl) = (string_arg(&a[1]), string_arg(&a[2]));
    Ok(if literal {
        re.replace_all(&s, regex::NoExpand(&repl)).into_owned()
    } else {
        re.replace_all(&s, repl.as_str()).into_owned()
    }
    .into())
}

fn regex_split(a: &[Val], must: bool) -> Result<Val, String> {
    want(a, 3)?;
    let s = string_arg(&a[1]);
    let n = int_arg(&a[2])?;
    let re = match compile(&string_arg(&a[0])) {
        Ok(re) => re,
        Err(e) if must => return Err(e),
        Err(_) => return Ok(Vec::new().into()),
    };
    let parts: Vec<Val> = match n {
        0 => Vec::new(),
        n if n < 0 => re.split(&s).map(Val::from).collect(),
        n => re
            .splitn(&s, usize::try_from(n).unwrap_or(usize::MAX))
            .map(Val::from)
            .collect(),
    };
    Ok(parts.into())
}

/// `path.Base`.
fn path_base(s: &str) -> &str {
    if s.is_empty() {
        return ".";
    }
    let trimmed = s.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// `path.Clean`.
fn path_clean(s: &str) -> String {
    let rooted = s.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in s.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `path.Dir`.
fn path_dir(s: &str) -> String {
    let dir = s.rfind('/').map_or("", |i| &s[..=i]);
    path_clean(dir)
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let symbols = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < symbols {
                out.push(BASE32[((bits >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(s: &str) -> Result<String, String> {
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = BASE32
            .iter()
            .position(|b| *b == c)
            .ok_or_else(|| format!("illegal base32 data at input byte {}", out.len()))?;
        bits = (bits << 5) | v as u64;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Seconds since the epoch when `v` is a number; any other time value is the epoch.
fn seconds(v: &Val) -> i64 {
    match v {
        Val::Int(i) => *i,
        Val::Float(f) => *f as i64,
        _ => 0,
    }
}

/// Go's `Duration.String` for whole seconds: `1m35s`, `2h0m0s`, `0s`.
fn duration(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sign}{sec}s"),
        (0, m, sec) => format!("{sign}{m}m{sec}s"),
        (h, m, sec) => format!("{sign}{h}h{m}m{sec}s"),
    }
}

/// Formats a UTC time with a Go layout ("2006-01-02T15:04:05Z07:00").
fn format_time(layout: &str, secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil(days);
    let (hour, minute, second) = (sod / 3600, sod % 3600 / 60, sod % 60);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1).clamp(0, 11) as usize];
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let yday = days - days_from_civil(year, 1, 1) + 1;
    const TOKENS: &[&str] = &[
        "January",
        "Jan",
        "Monday",
        "Mon",
        "MST",
        "2006",
        "-07:00:00",
        "-070000",
        "-07:00",
        "-0700",
        "-07",
        "Z07:00:00",
        "Z070000",
        "Z07:00",
        "Z0700",
        "Z07",
        "002",
        "__2",
        "_2",
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "15",
        "PM",
        "pm",
        "1",
        "2",
        "3",
        "4",
        "5",
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        if let Some(frac) = fraction(rest) {
            out.push_str(&frac.1);
            rest = &rest[frac.0..];
            continue;
        }
        for token in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(&match *token {
                    "January" => month_name.to_owned(),
                    "Jan" => month_name[..3].to_owned(),
                    "Monday" => weekday.to_owned(),
                    "Mon" => weekday[..3].to_owned(),
                    "MST" => "UTC".to_owned(),
                    "2006" => format!("{year:04}"),
                    "-07:00:00" => "+00:00:00".to_owned(),
                    "-070000" => "+000000".to_owned(),
                    "-07:00" => "+00:00".to_owned(),
                    "-0700" => "+0000".to_owned(),
                    "-07" => "+00".to_owned(),
                    t if t.starts_with('Z') => "Z".to_owned(),
                    "002" => format!("{yday:03}"),
                    "__2" => format!("{yday:>3}"),
                    "_2" => format!("{day:>2}"),
                    "01" => format!("{month:02}"),
                    "02" => format!("{day:02}"),
                    "03" => format!("{hour12:02}"),
                    "04" => format!("{minute:02}"),
                    "05" => format!("{second:02}"),
                    "06" => format!("{:02}", year.rem_euclid(100)),
                    "15" => format!("{hour:02}"),
                    "PM" => if hour >= 12 { "PM" } else { "AM" }.to_owned(),
                    "pm" => if hour >= 12 { "pm" } else { "am" }.to_owned(),
                    "1" => month.to_string(),
                    "2" => day.to_string(),
                    "3" => hour12.to_string(),
                    "4" => minute.to_string(),
                    _ => second.to_string(),
                });
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `.000`/`,999` after seconds: fractional digits (always zero here); `(length, text)`.
fn fraction(s: &str) -> Option<(usize, String)> {
    let sep = s.chars().next().filter(|c| matches!(c, '.' | ','))?;
    let digits = s[1..]
        .bytes()
        .take_while(|b| *b == b'0' || *b == b'9')
        .count();
    let first = s.as_bytes().get(1).copied()?;
    if digits == 0
        || s[1..1 + digits].bytes().any(|b| b != first)
        || s.as_bytes().get(1 + digits).is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    let text = if first == b'0' {
        format!("{sep}{}", "0".repeat(digits))
    } else {
        String::new()
    };
    Some((1 + digits, text))
}

/// Days since the epoch to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
