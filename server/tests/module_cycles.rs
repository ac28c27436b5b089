//! No import cycle between the modules of `server/src`, checked on every test run.
//!
//! How it works: every `crate::…`, `super::…` and `self::…` path in the code (in `use`
//! declarations and inline, brace groups included) is resolved to the deepest module file
//! it names (`crate::service::files::Download` → `service/files.rs`; an item of a module
//! counts as that module). That gives one edge per file and module it reaches. Edges
//! between a module and its own ancestors or descendants are left out: a module and the
//! modules declared inside it are one unit (a parent re-exports its children, a child uses
//! its parent's types). Any other cycle fails the test, naming the files around it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module as its path from the crate root (`["service", "files"]`), and its file.
type ModulePath = Vec<String>;

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every module file under `src`, by module path.
fn modules(root: &Path) -> BTreeMap<ModulePath, PathBuf> {
    fn walk(dir: &Path, prefix: &ModulePath, out: &mut BTreeMap<ModulePath, PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read src")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                let mut next = prefix.clone();
                next.push(name);
                walk(&path, &next, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module = prefix.clone();
                if !matches!(name.as_str(), "mod" | "lib" | "main") {
                    module.push(name);
                }
                out.entry(module).or_insert(path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &Vec::new(), &mut out);
    out
}

/// The code of a file without comments and string literals (so prose does not count).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths starting at `start` in `code`: `a::b::c`, or `a::{b, c::d}` expanded.
fn paths_at(code: &str, start: usize) -> Vec<Vec<String>> {
    let bytes: Vec<char> = code[start..].chars().collect();
    let mut segments = Vec::new();
    let mut i = 0;
    loop {
        let begin = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if i > begin {
            segments.push(bytes[begin..i].iter().collect::<String>());
        }
        if i + 1 < bytes.len() && bytes[i] == ':' && bytes[i + 1] == ':' {
            i += 2;
            if i < bytes.len() && bytes[i] == '{' {
                // A group: split its top-level items and expand each.
                let mut depth = 0;
                let mut item = String::new();
                let mut items = Vec::new();
                for &c in &bytes[i + 1..] {
                    match c {
                        '{' => {
                            depth += 1;
                            item.push(c);
                        }
                        '}' if depth == 0 => break,
                        '}' => {
                            depth -= 1;
                            item.push(c);
                        }
                        ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                        _ => item.push(c),
                    }
                }
                items.push(item);
                let mut out = Vec::new();
                for item in items {
                    let item = item.trim();
                    if item.is_empty() {
                        continue;
                    }
                    for tail in paths_at(item, 0) {
                        let mut path = segments.clone();
                        path.extend(tail);
                        out.push(path);
                    }
                }
                return out;
            }
            continue;
        }
        break;
    }
    vec![segments]
}

/// The modules a file's code reaches, resolved against the module tree.
fn imports(
    module: &ModulePath,
    is_dir_module: bool,
    code: &str,
    known: &BTreeMap<ModulePath, PathBuf>,
) -> BTreeSet<ModulePath> {
    let mut out = BTreeSet::new();
    for anchor in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(anchor) {
            let at = from + found;
            from = at + anchor.len();
            if at > 0 && code[..at].chars().last().is_some_and(is_ident) {
                continue; // `xcrate::` or part of a longer path
            }
            // The module the anchor stands for: `super` of `a/b.rs` is `a`, of `a/b/mod.rs`
            // is also `a`; `self` is the file's own module.
            let base: ModulePath = match anchor {
                "crate::" => Vec::new(),
                "self::" => module.clone(),
                _ => {
                    let _ = is_dir_module;
                    module[..module.len().saturating_sub(1)].to_vec()
                }
            };
            for tail in paths_at(code, from) {
                let mut path = base.clone();
                let mut tail = tail.into_iter().peekable();
                // `super::super::…`
                while tail.peek().is_some_and(|s| s == "super") {
                    tail.next();
                    path.pop();
                }
                let full: Vec<String> = path.into_iter().chain(tail).collect();
                let deepest = (0..=full.len())
                    .rev()
                    .map(|n| full[..n].to_vec())
                    .find(|prefix| known.contains_key(prefix));
                if let Some(target) = deepest {
                    out.insert(target);
                }
            }
        }
    }
    out
}

fn related(a: &ModulePath, b: &ModulePath) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The cycles of `graph` (one per strongly connected component of two or more modules).
fn cycles(graph: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<Vec<ModulePath>> {
    // Tarjan's algorithm.
    struct State<'a> {
        graph: &'a BTreeMap<ModulePath, BTreeSet<ModulePath>>,
        index: BTreeMap<&'a ModulePath, usize>,
        low: BTreeMap<&'a ModulePath, usize>,
        stack: Vec<&'a ModulePath>,
        on_stack: BTreeSet<&'a ModulePath>,
        next: usize,
        out: Vec<Vec<ModulePath>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a ModulePath) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.out
}

fn import_graph(root: &Path) -> BTreeMap<ModulePath, BTreeSet<ModulePath>> {
    let known = modules(root);
    known
        .iter()
        .map(|(module, file)| {
            let text = std::fs::read_to_string(file).expect("read module");
            let is_dir_module = file.file_name().is_some_and(|n| n == "mod.rs");
            let reached = imports(module, is_dir_module, &code_only(&text), &known)
                .into_iter()
                .filter(|target| !related(module, target))
                .collect();
            (module.clone(), reached)
        })
        .collect()
}

#[test]
fn no_import_cycle_between_server_modules() {
    let graph = import_graph(&source_root());
    let found = cycles(&graph);
    let described: Vec<String> = found
        .iter()
        .map(|cycle| {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            names.join(" ↔ ")
        })
        .collect();
    assert!(
        described.is_empty(),
        "import cycles in server/src:\n{}",
        described.join("\n")
    );
}

#[test]
fn the_checker_sees_cycles_and_groups() {
    let known: BTreeMap<ModulePath, PathBuf> = [
        vec![],
        vec!["http".to_string()],
        vec!["http".to_string(), "files".to_string()],
        vec!["ws".to_string()],
    ]
    .into_iter()
    .map(|m| (m, PathBuf::new()))
    .collect();
    let http_files = vec!["http".to_string(), "files".to_string()];
    let reached = imports(
        &http_files,
        false,
        &code_only("use crate::ws::{self, upgrade};\n// crate::nothing\nlet s = \"crate::x\";"),
        &known,
    );
    assert_eq!(reached, BTreeSet::from([vec!["ws".to_string()]]));
    let reached = imports(
        &vec!["ws".to_string()],
        true,
        "crate::http::files::serve()",
        &known,
    );
    assert_eq!(reached, BTreeSet::from([http_files.clone()]));
    let graph = BTreeMap::from([
        (http_files.clone(), BTreeSet::from([vec!["ws".to_string()]])),
        (vec!["ws".to_string()], BTreeSet::from([http_files.clone()])),
    ]);
    assert_eq!(cycles(&graph).len(), 1);
}
