//! The bounds that keep hostile or broken templates from exhausting memory or the stack: a
//! template hitting one gets an error naming it, never a panic or an abort.

/// Control structures and parentheses nest at most this deep in one template's source.
pub(super) const MAX_PARSE_NESTING: usize = 200;
/// `include`/`template`/`tpl` calls nest at most this deep (a recursive definition stops here).
pub(super) const MAX_CALLS: usize = 100;
/// Control structures, parentheses and calls together nest at most this deep while executing.
pub(super) const MAX_NESTING: usize = 400;
/// Values nest at most this deep when converted, printed, serialised, copied or compared
/// (templates can build deep, even cyclic, structures).
pub(super) const MAX_DEPTH: usize = 200;
/// Output of one render (including text built by `include`) is capped at this many bytes.
pub(super) const MAX_OUTPUT: usize = 64 << 20;
/// Strings returned by functions (`repeat`, `printf`, `cat`…) are capped at this many bytes.
pub(super) const MAX_STRING: usize = 16 << 20;
/// Lists returned by functions (`until`, `concat`, `append`…) hold at most this many items.
pub(super) const MAX_LIST: usize = 1 << 20;
/// One render runs at most this many `range` iterations.
pub(super) const MAX_STEPS: usize = 10_000_000;
/// Stack that parsing and executing may use below the entry point. The nesting limits bound
/// the recursion; this bounds its cost whatever the build's frame sizes (unoptimised frames are
/// several times larger), leaving room for the leaf work (YAML, regex, serialisation) in a
/// 2 MiB thread.
const STACK_BUDGET: usize = 1 << 20;

/// The address of a local: how far down the stack execution is.
#[inline(never)]
pub(super) fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Whether recursion has used up the stack budget since `base` (a `stack_position()`).
pub(super) fn stack_exhausted(base: usize) -> bool {
    stack_position().abs_diff(base) > STACK_BUDGET
}
