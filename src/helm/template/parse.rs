//! Builds trees from tokens, as Go's `text/template/parse` does: control structures, pipelines,
//! commands and operands; `define`/`block` bodies become separate trees. Like Go it rejects, at
//! parse time, unknown functions, undefined variables and `break`/`continue` outside `range`.

use std::fmt;
use std::sync::Arc;

use super::TemplateError;
use super::funcs;
use super::lex::{self, Tok, Token};
use super::limits::{MAX_PARSE_NESTING, stack_exhausted, stack_position};

const KEYWORDS: &[&str] = &[
    "block", "break", "continue", "define", "else", "end", "if", "range", "template", "with",
];

/// A template body and the file it was written in (errors inside it name that file).
#[derive(Debug)]
pub(super) struct Tree {
    pub(super) file: Arc<str>,
    pub(super) body: Vec<Node>,
}

impl Tree {
    /// Go's `IsEmptyTree`: nothing but white space.
    pub(super) fn is_empty(&self) -> bool {
        self.body
            .iter()
            .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
    }
}

/// A parsed file: its own body and the definitions it contains.
pub(super) struct Parsed {
    pub(super) body: Tree,
    pub(super) defines: Vec<(String, Tree)>,
}

#[derive(Debug)]
pub(super) enum Node {
    Text(String),
    Action(Pipe),
    If(Box<Branch>),
    With(Box<Branch>),
    Range(Box<Branch>),
    Template {
        line: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug)]
pub(super) struct Branch {
    pub(super) line: usize,
    pub(super) pipe: Pipe,
    pub(super) body: Vec<Node>,
    pub(super) else_body: Vec<Node>,
}

/// `$x := cmd | cmd …`: declared (or, with `assign`, assigned) variables and commands.
#[derive(Debug)]
pub(super) struct Pipe {
    pub(super) line: usize,
    pub(super) decl: Vec<String>,
    pub(super) assign: bool,
    pub(super) cmds: Vec<Cmd>,
}

#[derive(Debug)]
pub(super) struct Cmd {
    pub(super) line: usize,
    pub(super) args: Vec<Arg>,
}

#[derive(Debug)]
pub(super) enum Arg {
    Dot,
    Lit(Lit),
    /// A function name.
    Ident(String),
    /// `.a.b` on dot.
    Field(Vec<String>),
    /// `$x.a.b`.
    Var(String, Vec<String>),
    /// `(…).a.b`.
    Chain(Box<Arg>, Vec<String>),
    Pipe(Box<Pipe>),
}

#[derive(Debug)]
pub(super) enum Lit {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = |f: &mut fmt::Formatter<'_>, names: &[String]| {
            names.iter().try_for_each(|n| write!(f, ".{n}"))
        };
        match self {
            Arg::Dot => f.write_str("."),
            Arg::Lit(Lit::Nil) => f.write_str("nil"),
            Arg::Lit(Lit::Bool(b)) => write!(f, "{b}"),
            Arg::Lit(Lit::Int(i)) => write!(f, "{i}"),
            Arg::Lit(Lit::Float(x)) => write!(f, "{x}"),
            Arg::Lit(Lit::Str(s)) => write!(f, "{s:?}"),
            Arg::Ident(name) => f.write_str(name),
            Arg::Field(names) => fields(f, names),
            Arg::Var(name, names) => {
                f.write_str(name)?;
                fields(f, names)
            }
            Arg::Chain(inner, names) => {
                write!(f, "{inner}")?;
                fields(f, names)
            }
            Arg::Pipe(_) => f.write_str("(…)"),
        }
    }
}

pub(super) fn parse(file: &str, text: &str) -> Result<Parsed, TemplateError> {
    parse_at(file, text, stack_position())
}

/// Parses with the stack budget counted from `stack_base` (for `tpl`, the render's).
pub(super) fn parse_at(file: &str, text: &str, stack_base: usize) -> Result<Parsed, TemplateError> {
    let toks = lex::lex(text).map_err(|e| TemplateError {
        template: file.to_owned(),
        line: e.line,
        message: e.message,
    })?;
    let mut p = Parser {
        toks,
        pos: 0,
        file: Arc::from(file),
        vars: vec!["$".into()],
        range_depth: 0,
        depth: 0,
        stack_base,
        defines: Vec::new(),
    };
    let body = p.top()?;
    Ok(Parsed {
        body: Tree {
            file: p.file.clone(),
            body,
        },
        defines: p.defines,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Command,
    If,
    With,
    Range,
    Template,
    Block,
    Paren,
}

impl Ctx {
    fn name(self) -> &'static str {
        match self {
            Ctx::Command => "command",
            Ctx::If => "if",
            Ctx::With => "with",
            Ctx::Range => "range",
            Ctx::Template => "template clause",
            Ctx::Block => "block clause",
            Ctx::Paren => "parenthesized pipeline",
        }
    }

    fn end(self) -> Tok {
        if self == Ctx::Paren {
            Tok::RParen
        } else {
            Tok::Close
        }
    }
}

/// How a list of nodes ended.
enum Term {
    End(usize),
    Else(usize),
    Eof,
}

/// What an action turned out to be.
enum Item {
    Node(Node),
    Term(Term),
    /// A `define`, already recorded.
    Define,
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    file: Arc<str>,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    stack_base: usize,
    defines: Vec<(String, Tree)>,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(_) => "text".into(),
        Tok::Open => "{{".into(),
        Tok::Close => "}}".into(),
        Tok::Ident(s) | Tok::Var(s) => s.clone(),
        Tok::Field(s) => format!(".{s}"),
        Tok::Dot => ".".into(),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Number(s) => s.clone(),
        Tok::Char(c) => format!("{c:?}"),
        Tok::Bool(b) => b.to_string(),
        Tok::Nil => "nil".into(),
        Tok::Pipe => "|".into(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::Declare => ":=".into(),
        Tok::Assign => "=".into(),
        Tok::Comma => ",".into(),
    }
}

impl Parser {
    fn err<T>(&self, line: usize, message: impl Into<String>) -> Result<T, TemplateError> {
        Err(TemplateError {
            template: self.file.to_string(),
            line,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += usize::from(t.is_some());
        t
    }

    fn last_line(&self) -> usize {
        self.toks.last().map_or(1, |t| t.line)
    }

    fn peek_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Ident(w), .. }) if w == word)
    }

    fn expect_close(&mut self, what: &str) -> Result<(), TemplateError> {
        match self.next() {
            Some(Token {
                tok: Tok::Close, ..
            }) => Ok(()),
            Some(t) => self.err(t.line, format!("unexpected {} in {what}", describe(&t.tok))),
            None => self.err(self.last_line(), "unclosed action"),
        }
    }

    fn enter(&mut self, line: usize) -> Result<(), TemplateError> {
        self.depth += 1;
        if self.depth > MAX_PARSE_NESTING || stack_exhausted(self.stack_base) {
            return self.err(
                line,
                format!("template nested too deeply (at most {MAX_PARSE_NESTING} levels)"),
            );
        }
        Ok(())
    }

    fn top(&mut self) -> Result<Vec<Node>, TemplateError> {
        let mut nodes = Vec::new();
        loop {
            match self.item(true)? {
                Item::Node(n) => nodes.push(n),
                Item::Define => {}
                Item::Term(Term::Eof) => return Ok(nodes),
                Item::Term(Term::End(line)) => return self.err(line, "unexpected {{end}}"),
                Item::Term(Term::Else(line)) => return self.err(line, "unexpected {{else}}"),
            }
        }
    }

    /// Nodes up to `{{end}}` or `{{else}}` of the structure opened at `line`.
    fn list(&mut self, what: &str, line: usize) -> Result<(Vec<Node>, Term), TemplateError> {
        let mut nodes = Vec::new();
        loop {
            match self.item(false)? {
                Item::Node(n) => nodes.push(n),
                Item::Define => {}
                Item::Term(Term::Eof) => {
                    return self.err(
                        self.last_line(),
                        format!("unexpected EOF: {{{{{what}}}}} at line {line} has no {{{{end}}}}"),
                    );
                }
                Item::Term(t) => return Ok((nodes, t)),
            }
        }
    }

    fn item(&mut self, top: bool) -> Result<Item, TemplateError> {
        let Some(t) = self.next() else {
            return Ok(Item::Term(Term::Eof));
        };
        let line = t.line;
        match t.tok {
            Tok::Text(s) => return Ok(Item::Node(Node::Text(s))),
            Tok::Open => {}
            other => return self.err(line, format!("unexpected {}", describe(&other))),
        }
        let keyword = match self.peek() {
            Some(Token {
                tok: Tok::Ident(w), ..
            }) if KEYWORDS.contains(&w.as_str()) => w.clone(),
            _ => return Ok(Item::Node(Node::Action(self.pipeline(Ctx::Command)?))),
        };
        self.pos += 1;
        let node = match keyword.as_str() {
            "if" => self.control(Ctx::If, line)?,
            "with" => self.control(Ctx::With, line)?,
            "range" => self.control(Ctx::Range, line)?,
            "template" => self.template(line)?,
            "block" => self.block(line)?,
            "end" => {
                self.expect_close("end")?;
                return Ok(Item::Term(Term::End(line)));
            }
            "else" => return Ok(Item::Term(Term::Else(line))),
            "define" if top => {
                self.define(line)?;
                return Ok(Item::Define);
            }
            "define" => return self.err(line, "{{define}} is only allowed at the top level"),
            word => {
                if self.range_depth == 0 {
                    return self.err(line, format!("{{{{{word}}}}} outside {{{{range}}}}"));
                }
                self.expect_close(word)?;
                if word == "break" {
                    Node::Break
                } else {
                    Node::Continue
                }
            }
        };
        Ok(Item::Node(node))
    }

    /// `if`/`with`/`range` after the keyword, through the matching `{{end}}`.
    fn control(&mut self, ctx: Ctx, line: usize) -> Result<Node, TemplateError> {
        self.enter(line)?;
        let mark = self.vars.len();
        let pipe = self.pipeline(ctx)?;
        self.range_depth += usize::from(ctx == Ctx::Range);
        let (body, term) = self.list(ctx.name(), line)?;
        self.range_depth -= usize::from(ctx == Ctx::Range);
        let else_body = match term {
            Term::Else(else_line) => {
                let chained = match ctx {
                    Ctx::If => self.peek_ident("if"),
                    Ctx::With => self.peek_ident("with"),
                    _ => false,
                };
                if chained {
                    self.pos += 1;
                    vec![self.control(ctx, else_line)?]
                } else {
                    self.expect_close("else")?;
                    let (nodes, term) = self.list(ctx.name(), line)?;
                    if let Term::Else(l) = term {
                        return self.err(l, "expected {{end}}; found {{else}}");
                    }
                    nodes
                }
            }
            _ => Vec::new(),
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        let branch = Box::new(Branch {
            line,
            pipe,
            body,
            else_body,
        });
        Ok(match ctx {
            Ctx::If => Node::If(branch),
            Ctx::With => Node::With(branch),
            _ => Node::Range(branch),
        })
    }

    fn template_name(&mut self, what: &str) -> Result<String, TemplateError> {
        match self.next() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => Ok(s),
            Some(t) => self.err(t.line, format!("unexpected {} in {what}", describe(&t.tok))),
            None => self.err(self.last_line(), "unclosed action"),
        }
    }

    fn template(&mut self, line: usize) -> Result<Node, TemplateError> {
        let name = self.template_name("template clause")?;
        let pipe = if matches!(
            self.peek(),
            Some(Token {
                tok: Tok::Close,
                ..
            })
        ) {
            self.pos += 1;
            None
        } else {
            Some(self.pipeline(Ctx::Template)?)
        };
        Ok(Node::Template { line, name, pipe })
    }

    fn block(&mut self, line: usize) -> Result<Node, TemplateError> {
        let name = self.template_name("block clause")?;
        let pipe = self.pipeline(Ctx::Block)?;
        let body = self.definition_body("block", line)?;
        self.add_define(name.clone(), body, line)?;
        Ok(Node::Template {
            line,
            name,
            pipe: Some(pipe),
        })
    }

    fn define(&mut self, line: usize) -> Result<(), TemplateError> {
        let name = self.template_name("define clause")?;
        self.expect_close("define clause")?;
        let body = self.definition_body("define", line)?;
        self.add_define(name, body, line)
    }

    /// A definition's body: its own variable scope, outside any `range`.
    fn definition_body(&mut self, what: &str, line: usize) -> Result<Vec<Node>, TemplateError> {
        self.enter(line)?;
        let vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let range_depth = std::mem::replace(&mut self.range_depth, 0);
        let (body, term) = self.list(what, line)?;
        if let Term::Else(l) = term {
            return self.err(l, format!("unexpected {{{{else}}}} in {what}"));
        }
        self.vars = vars;
        self.range_depth = range_depth;
        self.depth -= 1;
        Ok(body)
    }

    fn add_define(
        &mut self,
        name: String,
        body: Vec<Node>,
        line: usize,
    ) -> Result<(), TemplateError> {
        let tree = Tree {
            file: self.file.clone(),
            body,
        };
        if let Some(i) = self.defines.iter().position(|(n, _)| *n == name) {
            if !tree.is_empty() && !self.defines[i].1.is_empty() {
                return self.err(line, format!("multiple definition of template {name:?}"));
            }
            if !tree.is_empty() {
                self.defines[i].1 = tree;
            }
            return Ok(());
        }
        self.defines.push((name, tree));
        Ok(())
    }

    fn pipeline(&mut self, ctx: Ctx) -> Result<Pipe, TemplateError> {
        let line = self.peek().map_or(self.last_line(), |t| t.line);
        let (decl, assign) = self.declarations(ctx)?;
        let end = ctx.end();
        let mut cmds = Vec::new();
        loop {
            let cmd = self.command(ctx)?;
            if !cmds.is_empty() && matches!(cmd.args.first(), Some(Arg::Lit(_) | Arg::Dot)) {
                return self.err(
                    cmd.line,
                    format!(
                        "non executable command in pipeline stage {}",
                        cmds.len() + 1
                    ),
                );
            }
            cmds.push(cmd);
            match self.next() {
                Some(Token { tok: Tok::Pipe, .. }) => continue,
                Some(t) if t.tok == end => break,
                Some(t) => {
                    let message = match (&t.tok, ctx) {
                        (Tok::Close, Ctx::Paren) => "unclosed left paren".to_owned(),
                        (Tok::RParen, _) => "unexpected right paren".to_owned(),
                        (tok, _) => format!("unexpected {} in {}", describe(tok), ctx.name()),
                    };
                    return self.err(t.line, message);
                }
                None => return self.err(self.last_line(), "unclosed action"),
            }
        }
        Ok(Pipe {
            line,
            decl,
            assign,
            cmds,
        })
    }

    /// `$x :=`, `$x =`, or in `range` also `$i, $v :=`.
    fn declarations(&mut self, ctx: Ctx) -> Result<(Vec<String>, bool), TemplateError> {
        let is_decl = |p: &Parser, at: usize| {
            matches!(
                p.toks.get(at),
                Some(Token {
                    tok: Tok::Var(_),
                    ..
                })
            ) && matches!(
                p.toks.get(at + 1),
                Some(Token {
                    tok: Tok::Declare | Tok::Assign | Tok::Comma,
                    ..
                })
            )
        };
        if !is_decl(self, self.pos) {
            return Ok((Vec::new(), false));
        }
        let mut names = Vec::new();
        loop {
            let (Some(var), Some(op)) = (self.next(), self.next()) else {
                return self.err(self.last_line(), "unclosed action");
            };
            let Tok::Var(name) = var.tok else {
                return self.err(
                    var.line,
                    format!("unexpected {} in declaration", describe(&var.tok)),
                );
            };
            names.push(name);
            match op.tok {
                Tok::Comma if ctx == Ctx::Range && names.len() < 2 && is_decl(self, self.pos) => {}
                Tok::Comma => {
                    return self.err(op.line, format!("too many declarations in {}", ctx.name()));
                }
                Tok::Assign => {
                    if let Some(missing) = names.iter().find(|n| !self.vars.contains(n)) {
                        return self.err(op.line, format!("undefined variable {missing:?}"));
                    }
                    return Ok((names, true));
                }
                _ => {
                    self.vars.extend(names.iter().cloned());
                    return Ok((names, false));
                }
            }
        }
    }

    fn command(&mut self, ctx: Ctx) -> Result<Cmd, TemplateError> {
        let line = self.peek().map_or(self.last_line(), |t| t.line);
        let mut args = Vec::new();
        loop {
            let Some(t) = self.peek() else {
                return self.err(self.last_line(), "unclosed action");
            };
            if matches!(t.tok, Tok::Pipe | Tok::Close | Tok::RParen) {
                break;
            }
            if !args.is_empty() && !t.spaced {
                return self.err(
                    t.line,
                    format!("unexpected {} in operand", describe(&t.tok)),
                );
            }
            args.push(self.operand()?);
        }
        match args.first() {
            None => self.err(line, format!("missing value for {}", ctx.name())),
            Some(Arg::Lit(Lit::Nil)) => self.err(line, "nil is not a command"),
            Some(_) => Ok(Cmd { line, args }),
        }
    }

    fn operand(&mut self) -> Result<Arg, TemplateError> {
        let line = self.peek().map_or(self.last_line(), |t| t.line);
        let term = self.term()?;
        let mut names = Vec::new();
        while let Some(Token {
            tok: Tok::Field(name),
            spaced: false,
            ..
        }) = self.peek()
        {
            names.push(name.clone());
            self.pos += 1;
        }
        if names.is_empty() {
            return Ok(term);
        }
        match term {
            Arg::Field(mut first) => {
                first.extend(names);
                Ok(Arg::Field(first))
            }
            Arg::Var(var, mut first) => {
                first.extend(names);
                Ok(Arg::Var(var, first))
            }
            Arg::Pipe(_) | Arg::Ident(_) => Ok(Arg::Chain(Box::new(term), names)),
            other => self.err(line, format!("unexpected . after term {other}")),
        }
    }

    fn term(&mut self) -> Result<Arg, TemplateError> {
        let Some(t) = self.next() else {
            return self.err(self.last_line(), "unclosed action");
        };
        Ok(match t.tok {
            Tok::Ident(name) => {
                if KEYWORDS.contains(&name.as_str()) {
                    return self.err(t.line, format!("unexpected keyword {name:?} in operand"));
                }
                if !funcs::exists(&name) {
                    return self.err(t.line, format!("function {name:?} not defined"));
                }
                Arg::Ident(name)
            }
            Tok::Dot => Arg::Dot,
            Tok::Nil => Arg::Lit(Lit::Nil),
            Tok::Bool(b) => Arg::Lit(Lit::Bool(b)),
            Tok::Str(s) => Arg::Lit(Lit::Str(s)),
            Tok::Char(c) => Arg::Lit(Lit::Int(i64::from(u32::from(c)))),
            Tok::Number(text) => match number(&text) {
                Some(lit) => Arg::Lit(lit),
                None => return self.err(t.line, format!("illegal number syntax: {text:?}")),
            },
            Tok::Var(name) => {
                if !self.vars.contains(&name) {
                    return self.err(t.line, format!("undefined variable {name:?}"));
                }
                Arg::Var(name, Vec::new())
            }
            Tok::Field(name) => Arg::Field(vec![name]),
            Tok::LParen => {
                self.enter(t.line)?;
                let pipe = self.pipeline(Ctx::Paren)?;
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe))
            }
            other => {
                return self.err(
                    t.line,
                    format!("unexpected {} in operand", describe(&other)),
                );
            }
        })
    }
}

/// A number literal as Go reads one: integers (decimal, `0x`, `0o`, `0b`, leading-zero octal,
/// `_` separators) stay integers; anything with `.`, `e` or `E` is a float.
fn number(text: &str) -> Option<Lit> {
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let lower = body.to_ascii_lowercase();
    let radix = |digits: &str, radix: u32| i128::from_str_radix(digits, radix).ok();
    let int = if let Some(d) = lower.strip_prefix("0x") {
        radix(d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        radix(d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        radix(d, 2)
    } else if !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_digit()) {
        if lower.len() > 1 && lower.starts_with('0') {
            radix(&lower[1..], 8)
        } else {
            radix(&lower, 10)
        }
    } else {
        None
    };
    if let Some(i) = int {
        let i = if neg { -i } else { i };
        return Some(match i64::try_from(i) {
            Ok(i) => Lit::Int(i),
            Err(_) => Lit::Float(i as f64),
        });
    }
    let is_float = !lower.is_empty()
        && !lower.starts_with("0x")
        && lower
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
        && lower.bytes().any(|b| b.is_ascii_digit());
    if !is_float {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    Some(Lit::Float(if neg { -f } else { f }))
}
