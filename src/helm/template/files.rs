//! The methods Helm's templates call on special values: a chart's `.Files` (a JSON object
//! `{"$files": {path: content}}`) and `.Capabilities.APIVersions.Has` (any list).

use base64::Engine as _;

use super::funcs::{string_arg, want};
use super::value::{Map, Val};
use super::yaml::{self, Style};

const FILES_KEY: &str = "$files";

/// The path → content map of a Files object.
pub(super) fn inner(v: &Val) -> Option<Val> {
    v.get(FILES_KEY).filter(|m| matches!(m, Val::Map(_)))
}

fn files_object(entries: Map) -> Val {
    Map::from([(FILES_KEY.to_owned(), Val::from(entries))]).into()
}

/// The result of method `name` on `receiver`, or `None` if it has no such method.
pub(super) fn method(receiver: &Val, name: &str, args: &[Val]) -> Option<Result<Val, String>> {
    if let Val::List(list) = receiver {
        if name != "Has" {
            return None;
        }
        return Some(want(args, 1).map(|()| {
            let needle = string_arg(&args[0]);
            list.iter()
                .any(|v| v.as_str() == Some(needle.as_str()))
                .into()
        }));
    }
    let files = inner(receiver)?;
    let one_path = |f: &dyn Fn(Option<Val>) -> Val| {
        want(args, 1).map(|()| f(files.get(&string_arg(&args[0]))))
    };
    Some(match name {
        "Get" | "GetBytes" => one_path(&|v| v.map_or_else(|| "".into(), |v| string_arg(&v).into())),
        "Lines" => one_path(&|v| {
            let text = v.map(|v| string_arg(&v)).unwrap_or_default();
            if text.is_empty() {
                return Vec::new().into();
            }
            let text = text.strip_suffix('\n').unwrap_or(&text);
            text.split('\n').map(Val::from).collect::<Vec<_>>().into()
        }),
        "Glob" => want(args, 1).map(|()| {
            let pattern = glob(&string_arg(&args[0]));
            let matched = files
                .entries()
                .into_iter()
                .filter(|(path, _)| pattern.as_ref().is_none_or(|re| re.is_match(path)));
            files_object(matched.collect())
        }),
        "AsConfig" | "AsSecrets" => want(args, 0).and_then(|()| {
            let secrets = name == "AsSecrets";
            let by_name: Map = files
                .entries()
                .into_iter()
                .map(|(path, content)| {
                    let base = path.rsplit('/').next().unwrap_or(&path).to_owned();
                    let content = string_arg(&content);
                    let content = if secrets {
                        base64::engine::general_purpose::STANDARD.encode(content)
                    } else {
                        content
                    };
                    (base, Val::from(content))
                })
                .collect();
            if by_name.is_empty() {
                return Ok("".into());
            }
            yaml::to_yaml(&by_name.into(), Style::Helm).map(Val::from)
        }),
        _ => return None,
    })
}

/// A glob as Helm compiles it (gobwas/glob with `/` as separator): `*` and `?` stay within a
/// path segment, `**` crosses segments, `[abc]`, `[!a-z]` and `{a,b}` as usual. `None` for a
/// pattern that does not compile, which (as in Helm) matches everything.
fn glob(pattern: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    let mut braces = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                re.push('[');
                if matches!(chars.peek(), Some('!' | '^')) {
                    chars.next();
                    re.push('^');
                }
                loop {
                    match chars.next()? {
                        ']' => break,
                        '\\' => re.push_str(&regex::escape(&chars.next()?.to_string())),
                        '-' => re.push('-'),
                        c => re.push_str(&regex::escape(&c.to_string())),
                    }
                }
                re.push(']');
            }
            '{' => {
                braces += 1;
                re.push_str("(?:");
            }
            ',' if braces > 0 => re.push('|'),
            '}' if braces > 0 => {
                braces -= 1;
                re.push(')');
            }
            '\\' => re.push_str(&regex::escape(&chars.next()?.to_string())),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    if braces > 0 {
        return None;
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}
