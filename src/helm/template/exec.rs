//! Walks parsed trees over a value and writes the output, with Go's semantics for variables,
//! pipelines, `if`/`with`/`range` (with `break`/`continue`), `template` and field access. The
//! functions that need the template set or lazy arguments (`include`, `tpl`, `and`, `or`,
//! `required`, `fail`) live here; all others come from the function table.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::limits::{
    MAX_CALLS, MAX_LIST, MAX_NESTING, MAX_OUTPUT, MAX_STEPS, MAX_STRING, stack_exhausted,
    stack_position,
};
use super::parse::{self, Arg, Branch, Cmd, Lit, Node, Pipe, Tree};
use super::value::Val;
use super::{TemplateError, Templates, files, funcs};

/// The file name given to text parsed by `tpl`; errors located there are reported at the call.
const TPL_FILE: &str = "\0tpl";

pub(super) fn render(set: &Templates, name: &str, dot: &serde_json::Value) -> Result<String> {
    let at_start = |message: String| TemplateError {
        template: name.to_owned(),
        line: 0,
        message,
    };
    let tree = set
        .get(name)
        .cloned()
        .ok_or_else(|| at_start(format!("no template named {name:?}")))?;
    let dot = Val::from_json(dot).map_err(at_start)?;
    let mut exec = Exec {
        stack_base: stack_position(),
        set,
        local: BTreeMap::new(),
        vars: Vec::new(),
        file: tree.file.clone(),
        calls: 0,
        steps: 0,
        nesting: 0,
    };
    let mut out = String::new();
    exec.run(&tree, dot, &mut out, 0)?;
    Ok(out)
}

#[derive(Debug, PartialEq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

type Result<T> = std::result::Result<T, TemplateError>;

struct Exec<'a> {
    stack_base: usize,
    set: &'a Templates,
    /// Definitions made by `tpl` text during this render.
    local: BTreeMap<String, Arc<Tree>>,
    vars: Vec<(String, Val)>,
    /// The file of the tree being executed, for errors.
    file: Arc<str>,
    calls: usize,
    /// `range` iterations so far.
    steps: usize,
    nesting: usize,
}

impl Exec<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> TemplateError {
        TemplateError {
            template: self.file.to_string(),
            line,
            message: message.into(),
        }
    }

    fn enter(&mut self, line: usize) -> Result<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING || stack_exhausted(self.stack_base) {
            return Err(self.err(
                line,
                format!("execution nested too deeply (at most {MAX_NESTING} levels)"),
            ));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<Arc<Tree>> {
        self.local.get(name).or_else(|| self.set.get(name)).cloned()
    }

    /// Runs `tree` with `dot` as `.` and `$` in a fresh variable scope.
    fn run(&mut self, tree: &Arc<Tree>, dot: Val, out: &mut String, line: usize) -> Result<()> {
        if self.calls >= MAX_CALLS {
            return Err(self.err(
                line,
                format!("templates call each other more than {MAX_CALLS} levels deep"),
            ));
        }
        self.enter(line)?;
        self.calls += 1;
        let vars = std::mem::replace(&mut self.vars, vec![("$".into(), dot.clone())]);
        let file = std::mem::replace(&mut self.file, tree.file.clone());
        let result = self.list(&dot, &tree.body, out);
        self.vars = vars;
        self.file = file;
        self.calls -= 1;
        self.nesting -= 1;
        result.map(drop)
    }

    fn list(&mut self, dot: &Val, nodes: &[Node], out: &mut String) -> Result<Flow> {
        for node in nodes {
            let flow = self.node(dot, node, out)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn write(&self, out: &mut String, text: &str, line: usize) -> Result<()> {
        if out.len() + text.len() > MAX_OUTPUT {
            return Err(self.err(line, format!("output larger than {MAX_OUTPUT} bytes")));
        }
        out.push_str(text);
        Ok(())
    }

    fn node(&mut self, dot: &Val, node: &Node, out: &mut String) -> Result<Flow> {
        match node {
            Node::Text(text) => self.write(out, text, 0)?,
            Node::Action(pipe) => {
                let v = self.pipe(dot, pipe)?;
                if pipe.decl.is_empty() && !v.is_nil() {
                    self.write(out, &v.to_go(), pipe.line)?;
                }
            }
            Node::If(b) => return self.branch(dot, b, out, false),
            Node::With(b) => return self.branch(dot, b, out, true),
            Node::Range(b) => return self.range(dot, b, out),
            Node::Template { line, name, pipe } => {
                let data = match pipe {
                    Some(p) => self.pipe(dot, p)?,
                    None => Val::Nil,
                };
                let tree = self
                    .lookup(name)
                    .ok_or_else(|| self.err(*line, format!("no template named {name:?}")))?;
                self.run(&tree, data, out, *line)?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    /// `if` and `with`: variables declared in the pipeline live through both branches.
    fn branch(&mut self, dot: &Val, b: &Branch, out: &mut String, with: bool) -> Result<Flow> {
        self.enter(b.line)?;
        let mark = self.vars.len();
        let v = self.pipe(dot, &b.pipe)?;
        let flow = if !v.truthy() {
            self.list(dot, &b.else_body, out)?
        } else if with {
            self.list(&v, &b.body, out)?
        } else {
            self.list(dot, &b.body, out)?
        };
        self.vars.truncate(mark);
        self.nesting -= 1;
        Ok(flow)
    }

    fn range(&mut self, dot: &Val, b: &Branch, out: &mut String) -> Result<Flow> {
        self.enter(b.line)?;
        let mark = self.vars.len();
        let v = self.commands(dot, &b.pipe)?;
        let decl = &b.pipe.decl;
        if !b.pipe.assign {
            self.vars.extend(decl.iter().map(|n| (n.clone(), Val::Nil)));
        }
        let items = match &v {
            Val::Map(_) => {
                let map = files::inner(&v).unwrap_or(v.clone());
                Items::Entries(map.entries())
            }
            Val::List(l) => Items::List(l.clone()),
            Val::Int(n) if decl.len() > 1 => {
                return Err(self.err(
                    b.line,
                    format!("can't use {n} to iterate over more than one variable"),
                ));
            }
            Val::Int(n) => Items::Count(*n),
            Val::Nil => Items::Count(0),
            other => {
                return Err(self.err(
                    b.line,
                    format!("range can't iterate over {}", other.to_go()),
                ));
            }
        };
        let mut ran = false;
        for i in 0..items.len() {
            ran = true;
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err(self.err(b.line, format!("more than {MAX_STEPS} range iterations")));
            }
            let (key, elem) = items.get(i);
            match decl.len() {
                0 => {}
                1 => self.bind(mark, 0, &decl[0], b.pipe.assign, elem.clone(), b.line)?,
                _ => {
                    self.bind(mark, 0, &decl[0], b.pipe.assign, key, b.line)?;
                    self.bind(mark, 1, &decl[1], b.pipe.assign, elem.clone(), b.line)?;
                }
            }
            let body_mark = self.vars.len();
            let flow = self.list(&elem, &b.body, out)?;
            self.vars.truncate(body_mark);
            if flow == Flow::Break {
                break;
            }
        }
        if !ran {
            self.list(dot, &b.else_body, out)?;
        }
        self.vars.truncate(mark);
        self.nesting -= 1;
        Ok(Flow::Normal)
    }

    /// Sets a range variable: the `i`th one declared at `mark`, or an existing one for `=`.
    fn bind(
        &mut self,
        mark: usize,
        i: usize,
        name: &str,
        assign: bool,
        v: Val,
        line: usize,
    ) -> Result<()> {
        if assign {
            return self.set_var(name, v, line);
        }
        if let Some(slot) = self.vars.get_mut(mark + i) {
            slot.1 = v;
        }
        Ok(())
    }

    fn var(&self, name: &str, line: usize) -> Result<Val> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.err(line, format!("undefined variable {name:?}")))
    }

    fn set_var(&mut self, name: &str, v: Val, line: usize) -> Result<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.err(line, format!("undefined variable {name:?}"))),
        }
    }

    /// Evaluates a pipeline and declares or assigns its variables.
    fn pipe(&mut self, dot: &Val, pipe: &Pipe) -> Result<Val> {
        let v = self.commands(dot, pipe)?;
        for name in &pipe.decl {
            if pipe.assign {
                self.set_var(name, v.clone(), pipe.line)?;
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    /// Evaluates a pipeline's commands, each result becoming the last argument of the next.
    fn commands(&mut self, dot: &Val, pipe: &Pipe) -> Result<Val> {
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(dot, cmd, value.take())?);
        }
        Ok(value.unwrap_or_default())
    }

    fn command(&mut self, dot: &Val, cmd: &Cmd, piped: Option<Val>) -> Result<Val> {
        let line = cmd.line;
        let Some((first, rest)) = cmd.args.split_first() else {
            return Err(self.err(line, "empty command"));
        };
        let (receiver, names) = match first {
            Arg::Ident(name) => return self.call(dot, name, rest, piped, line),
            Arg::Field(names) => (dot.clone(), names),
            Arg::Var(name, names) if !names.is_empty() => (self.var(name, line)?, names),
            Arg::Chain(inner, names) => (self.arg(dot, inner, line)?, names),
            _ => {
                if !rest.is_empty() || piped.is_some() {
                    return Err(
                        self.err(line, format!("can't give argument to non-function {first}"))
                    );
                }
                return self.arg(dot, first, line);
            }
        };
        let args = self.args(dot, rest, piped, line)?;
        self.fields(receiver, names, args, line)
    }

    fn args(
        &mut self,
        dot: &Val,
        nodes: &[Arg],
        piped: Option<Val>,
        line: usize,
    ) -> Result<Vec<Val>> {
        let mut args = Vec::with_capacity(nodes.len() + 1);
        for node in nodes {
            args.push(self.arg(dot, node, line)?);
        }
        args.extend(piped);
        Ok(args)
    }

    fn arg(&mut self, dot: &Val, arg: &Arg, line: usize) -> Result<Val> {
        match arg {
            Arg::Dot => Ok(dot.clone()),
            Arg::Lit(lit) => Ok(match lit {
                Lit::Nil => Val::Nil,
                Lit::Bool(b) => Val::Bool(*b),
                Lit::Int(i) => Val::Int(*i),
                Lit::Float(f) => Val::Float(*f),
                Lit::Str(s) => Val::from(s.as_str()),
            }),
            Arg::Field(names) => self.fields(dot.clone(), names, Vec::new(), line),
            Arg::Var(name, names) => {
                let v = self.var(name, line)?;
                self.fields(v, names, Vec::new(), line)
            }
            Arg::Chain(inner, names) => {
                let v = self.arg(dot, inner, line)?;
                self.fields(v, names, Vec::new(), line)
            }
            Arg::Pipe(pipe) => {
                self.enter(line)?;
                let v = self.pipe(dot, pipe)?;
                self.nesting -= 1;
                Ok(v)
            }
            Arg::Ident(name) => self.call(dot, name, &[], None, line),
        }
    }

    /// `.a.b.c` on `receiver`; arguments go to the last name, which must then be a method.
    fn fields(
        &self,
        receiver: Val,
        names: &[String],
        mut args: Vec<Val>,
        line: usize,
    ) -> Result<Val> {
        let mut v = receiver;
        for (i, name) in names.iter().enumerate() {
            let last = i + 1 == names.len();
            let a = if last {
                std::mem::take(&mut args)
            } else {
                Vec::new()
            };
            v = self.field(&v, name, a, line)?;
        }
        Ok(v)
    }

    fn field(&self, v: &Val, name: &str, args: Vec<Val>, line: usize) -> Result<Val> {
        if let Some(result) = files::method(v, name, &args) {
            return result.map_err(|e| self.err(line, format!("error calling {name}: {e}")));
        }
        if !args.is_empty() {
            return Err(self.err(
                line,
                format!("{name} has arguments but cannot be invoked as function"),
            ));
        }
        match v {
            Val::Map(_) => Ok(v.get(name).unwrap_or_default()),
            Val::Nil => Ok(Val::Nil),
            other => Err(self.err(
                line,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            )),
        }
    }

    fn call(
        &mut self,
        dot: &Val,
        name: &str,
        nodes: &[Arg],
        piped: Option<Val>,
        line: usize,
    ) -> Result<Val> {
        match name {
            "and" | "or" => return self.and_or(dot, name == "and", nodes, piped, line),
            _ => {}
        }
        let args = self.args(dot, nodes, piped, line)?;
        let want = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(self.err(
                    line,
                    format!(
                        "wrong number of args for {name}: want {n} got {}",
                        args.len()
                    ),
                ))
            }
        };
        match name {
            "include" => {
                want(2)?;
                self.include(&args[0], args[1].clone(), line)
            }
            "tpl" => {
                want(2)?;
                self.tpl(&args[0], args[1].clone(), line)
            }
            "required" => {
                want(2)?;
                match &args[1] {
                    Val::Nil => Err(self.err(line, funcs::string_arg(&args[0]))),
                    Val::Str(s) if s.is_empty() => Err(self.err(line, funcs::string_arg(&args[0]))),
                    v => Ok(v.clone()),
                }
            }
            "fail" => {
                want(1)?;
                Err(self.err(line, funcs::string_arg(&args[0])))
            }
            _ => {
                let f = funcs::lookup(name)
                    .ok_or_else(|| self.err(line, format!("function {name:?} not defined")))?;
                let v = f(&args).and_then(check_size);
                v.map_err(|e| self.err(line, format!("error calling {name}: {e}")))
            }
        }
    }

    /// `and`/`or` stop at the first argument that decides, and return it.
    fn and_or(
        &mut self,
        dot: &Val,
        and: bool,
        nodes: &[Arg],
        piped: Option<Val>,
        line: usize,
    ) -> Result<Val> {
        if nodes.is_empty() && piped.is_none() {
            let name = if and { "and" } else { "or" };
            return Err(self.err(
                line,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut last = Val::Nil;
        for node in nodes {
            last = self.arg(dot, node, line)?;
            if last.truthy() != and {
                return Ok(last);
            }
        }
        Ok(piped.unwrap_or(last))
    }

    fn include(&mut self, name: &Val, data: Val, line: usize) -> Result<Val> {
        let name = funcs::string_arg(name);
        let tree = self.lookup(&name).ok_or_else(|| {
            self.err(
                line,
                format!("error calling include: no template named {name:?}"),
            )
        })?;
        let mut out = String::new();
        self.run(&tree, data, &mut out, line)
            .map_err(|e| self.relocate(e, line, "include"))?;
        Ok(out.into())
    }

    /// Helm's `tpl`: parses text as a template that sees every definition, and renders it.
    fn tpl(&mut self, text: &Val, data: Val, line: usize) -> Result<Val> {
        let text = funcs::string_arg(text);
        let parsed = parse::parse_at(TPL_FILE, &text, self.stack_base)
            .map_err(|e| self.relocate(e, line, "tpl"))?;
        for (name, tree) in parsed.defines {
            self.local.insert(name, Arc::new(tree));
        }
        let mut out = String::new();
        self.run(&Arc::new(parsed.body), data, &mut out, line)
            .map_err(|e| self.relocate(e, line, "tpl"))?;
        Ok(out.into())
    }

    /// Errors inside `tpl` text have no file of their own: report them at the call.
    fn relocate(&self, e: TemplateError, line: usize, function: &str) -> TemplateError {
        if e.template != TPL_FILE {
            return e;
        }
        self.err(
            line,
            format!(
                "error calling {function}: line {} of the template text: {}",
                e.line, e.message
            ),
        )
    }
}

/// Function results stay within the size limits, so that doubling a string or list in a loop
/// stops with an error rather than exhausting memory.
fn check_size(v: Val) -> std::result::Result<Val, String> {
    match &v {
        Val::Str(s) if s.len() > MAX_STRING => {
            Err(format!("result longer than {MAX_STRING} bytes"))
        }
        Val::List(l) if l.len() > MAX_LIST => Err(format!("result longer than {MAX_LIST} items")),
        _ => Ok(v),
    }
}

/// What a `range` iterates over.
enum Items {
    List(std::rc::Rc<Vec<Val>>),
    Entries(Vec<(String, Val)>),
    Count(i64),
}

impl Items {
    fn len(&self) -> usize {
        match self {
            Items::List(l) => l.len(),
            Items::Entries(e) => e.len(),
            Items::Count(n) => usize::try_from(*n).unwrap_or(0),
        }
    }

    /// The key (or index) and element at `i`.
    fn get(&self, i: usize) -> (Val, Val) {
        match self {
            Items::List(l) => (Val::Int(i as i64), l.get(i).cloned().unwrap_or_default()),
            Items::Entries(e) => e
                .get(i)
                .map(|(k, v)| (Val::from(k.as_str()), v.clone()))
                .unwrap_or_default(),
            Items::Count(_) => (Val::Int(i as i64), Val::Int(i as i64)),
        }
    }
}
