//! Finds the line of a dotted YAML path (`mirror.operators[1].foo`) in block-style YAML text.
//!
//! Written here because serde-saphyr keeps locations only for the fields a struct names: the
//! keys an ImageSetConfiguration should not have are found by walking a `serde_json::Value`
//! (see `isc::unknown_keys`), which has no locations. Block style is what oc-mirror's
//! documentation and users write; for flow style (`{…}`) the line is not found and the
//! warning names the path alone.

/// The 1-based line of `path` in `text`, if found.
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cursor = 0usize;
    // The column the keys of the current map start at (None: the top, any column).
    let mut min_col: Option<usize> = None;
    let mut found = None;
    for seg in segments(path) {
        let (line, col) = match seg {
            Seg::Key(k) => {
                let (line, col) = find_key(&lines, cursor, min_col, k)?;
                min_col = Some(col + 1);
                (line, col)
            }
            Seg::Index(i) => {
                let (line, col) = find_item(&lines, cursor + 1, i)?;
                // The item's first key sits after `- `, on the item's own line.
                min_col = Some(col + 2);
                (line, col)
            }
        };
        cursor = line;
        found = Some(line);
        let _ = col;
    }
    found.map(|l| l + 1)
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Seg::Index(i));
            }
        }
    }
    out
}

/// The content of a line after its indentation and any `- ` list markers, with its column.
fn content(line: &str) -> (usize, &str) {
    let mut col = line.len() - line.trim_start().len();
    let mut rest = line.trim_start();
    while let Some(r) = rest.strip_prefix("- ") {
        let r2 = r.trim_start();
        col += rest.len() - r2.len();
        rest = r2;
    }
    (col, rest)
}

fn is_blank(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// The first line at or after `from` holding `key:` at a column of at least `min_col`; `None`
/// once a later line goes left of `min_col` (the map ended).
fn find_key(
    lines: &[&str],
    from: usize,
    min_col: Option<usize>,
    key: &str,
) -> Option<(usize, usize)> {
    for (n, line) in lines.iter().enumerate().skip(from) {
        if is_blank(line) {
            continue;
        }
        let (col, rest) = content(line);
        let indent = line.len() - line.trim_start().len();
        // A key left of the map's column, or a new list item left of it, ends the map.
        let ended = min_col
            .is_some_and(|min| col < min || (indent < min && line.trim_start().starts_with('-')));
        if ended && n > from {
            return None;
        }
        if min_col.is_none_or(|m| col >= m)
            && let Some(after) = rest.strip_prefix(key)
            && after.trim_start().starts_with(':')
        {
            return Some((n, col));
        }
    }
    None
}

/// The `index`-th item (`- …`) of the list starting at or after `from`.
fn find_item(lines: &[&str], from: usize, index: usize) -> Option<(usize, usize)> {
    let mut dash_col = None;
    let mut seen = 0;
    for (n, line) in lines.iter().enumerate().skip(from) {
        if is_blank(line) {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        let is_item = t.starts_with("- ") || t == "-";
        match dash_col {
            None if is_item => dash_col = Some(indent),
            None => return None,
            Some(c) if indent < c || (indent == c && !is_item) => return None,
            _ => {}
        }
        if is_item && Some(indent) == dash_col {
            if seen == index {
                return Some((n, indent));
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const TEXT: &str = "kind: ImageSetConfiguration
mirror:
  platform:
    channels:
    - name: stable-4.15
      minVersion: 4.15.0
  operators:
  - catalog: a
    packages:
    - name: x
      bogus: 1
  - catalog: b
    extra: 2
    packages:
      - name: y
        channels:
          - name: stable
            oops: 3
  helm: {}
";

    #[test]
    fn paths_find_their_lines() {
        assert_eq!(line_of(TEXT, "kind"), Some(1));
        assert_eq!(
            line_of(TEXT, "mirror.platform.channels[0].minVersion"),
            Some(6)
        );
        assert_eq!(
            line_of(TEXT, "mirror.operators[0].packages[0].bogus"),
            Some(11)
        );
        assert_eq!(line_of(TEXT, "mirror.operators[1].extra"), Some(13));
        assert_eq!(
            line_of(TEXT, "mirror.operators[1].packages[0].channels[0].oops"),
            Some(18)
        );
        assert_eq!(line_of(TEXT, "mirror.helm"), Some(19));
        assert_eq!(line_of(TEXT, "mirror.nothing"), None);
    }
}
