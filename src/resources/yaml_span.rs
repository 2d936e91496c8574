//! Where a YAML value or a YAML error is in its source text, as miette spans: for the
//! diagnostics of the YAML inputs airlift reads (`convert-icsp`, `import`). Pure.

use miette::SourceSpan;
use serde_saphyr::Spanned;

/// The byte offset of a 1-based line and column; the end of the text past its last line.
pub fn offset_of(input: &str, line: u64, column: u64) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut off = 0usize;
    for (i, l) in input.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let col = column.saturating_sub(1) as usize;
            let within = l.char_indices().nth(col).map_or(l.len(), |(b, _)| b);
            return Some(off + within);
        }
        off += l.len();
    }
    Some(input.len())
}

/// From a value to the end of its line.
pub fn value_span<T>(input: &str, at: &Spanned<T>) -> SourceSpan {
    let loc = at.referenced;
    let off = loc
        .span()
        .byte_offset()
        .map(|o| o as usize)
        .or_else(|| offset_of(input, loc.line(), loc.column()))
        .unwrap_or(0)
        .min(input.len());
    let end = input[off..].find('\n').map_or(input.len(), |i| off + i);
    SourceSpan::from((off, (end - off).max(1).min(input.len() - off)))
}

/// The place a YAML parse error points at, and its first line of text without the snippet.
pub fn error_place(input: &str, e: &serde_saphyr::Error) -> (Option<SourceSpan>, String) {
    let span = e.location().and_then(|l| {
        let off = offset_of(input, l.line(), l.column())?;
        Some(SourceSpan::from((off, 1.min(input.len() - off))))
    });
    let message = e.without_snippet().to_string();
    (span, message.lines().next().unwrap_or_default().to_string())
}
