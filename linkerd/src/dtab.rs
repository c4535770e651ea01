//! `linkerd dtab show | bind | delegate`: debug dtabs offline, with the system namers
//! (or the namers a config file configures), printing exactly what Linkerd 1 would compute.

use std::fmt::Write as _;
use std::time::Duration;

use l5d_core::binding::{Bound, ConfiguredNamers};
use l5d_core::delegate::{DelegateTree, Node};
use l5d_core::naming::{Dtab, NameTree, ParseError, Path};
use l5d_core::var::State;

/// How long `bind` and `delegate` wait for configured namers to answer.
pub const WAIT: Duration = Duration::from_secs(10);

/// A failure of a `linkerd dtab` command: the message for stderr (exit code 1).
#[derive(Debug, PartialEq, Eq)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Describes a parse error of `what` in `text`, with a caret under the offending character.
pub fn parse_error(what: &str, text: &str, e: &ParseError) -> CliError {
    let mut msg = format!(
        "invalid {what} at character {}: {}",
        e.position(),
        e.message()
    );
    if !text.contains('\n') && text.chars().count() < 200 {
        let _ = write!(msg, "\n  {text}\n  {}^", " ".repeat(e.position()));
    }
    CliError(msg)
}

/// Parses each dtab text and concatenates them in order, later ones taking precedence.
pub fn read_dtabs(texts: &[String]) -> Result<Dtab, CliError> {
    texts.iter().try_fold(Dtab::empty(), |acc, t| {
        Dtab::read(t)
            .map(|d| acc.concat(&d))
            .map_err(|e| parse_error("dtab", t, &e))
    })
}

/// Parses the path to bind or delegate.
pub fn read_path(text: &str) -> Result<Path, CliError> {
    Path::read(text).map_err(|e| parse_error("path", text, &e))
}

/// `linkerd dtab show TEXT`: the dtab in Finagle's canonical form.
pub fn show(text: &str) -> Result<String, CliError> {
    Ok(read_dtabs(&[text.to_string()])?.show())
}

/// `linkerd dtab bind`: the bound tree on one line, each leaf its id then its residual.
pub async fn bind(interp: &ConfiguredNamers, dtab: &Dtab, path: &Path) -> Result<String, CliError> {
    use l5d_core::binding::NameInterpreter;
    let mut var = interp.bind(dtab, path);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let state = var.get_and_mark_seen().clone();
        match state {
            State::Ok(tree) => return Ok(tree.to_string()),
            State::Failed(e) => return Err(CliError(format!("binding {path} failed: {e}"))),
            State::Pending => {
                let changed = tokio::time::timeout_at(deadline, var.changed()).await;
                if !matches!(changed, Ok(true)) {
                    return Err(CliError(format!(
                        "binding {path}: no answer from the namers within {WAIT:?}"
                    )));
                }
            }
        }
    }
}

/// `linkerd dtab delegate`: the explanation tree, as text or as `/delegator.json`'s JSON.
pub async fn delegate(
    interp: &ConfiguredNamers,
    dtab: &Dtab,
    path: &Path,
    json: bool,
) -> Result<String, CliError> {
    let tree = interp
        .delegate(dtab, path, WAIT)
        .await
        .map_err(|e| CliError(format!("delegating {path} failed: {e}")))?;
    Ok(if json {
        tree.to_json().to_string()
    } else {
        render(&tree)
    })
}

/// Renders a delegation as an indented tree, one step per line: the path, the dentry that
/// produced it in brackets, and what it became.
pub fn render(tree: &DelegateTree<Bound>) -> String {
    let mut out = String::new();
    render_into(&mut out, tree, 0, None);
    out.pop();
    out
}

fn render_into(out: &mut String, t: &DelegateTree<Bound>, depth: usize, weight: Option<f64>) {
    let indent = "  ".repeat(depth);
    let weight = weight
        .map(|w| format!("{}* ", l5d_core::naming::format_weight(w)))
        .unwrap_or_default();
    let path = match &t.node {
        Node::Neg if t.path.is_empty() => "~".to_string(),
        _ => t.path.show(),
    };
    let dentry = if t.dentry.is_nop() {
        String::new()
    } else {
        format!("  [{}]", t.dentry)
    };
    let what = match &t.node {
        Node::Exception(msg) => format!("  error: {msg}"),
        Node::Empty => "  => $ (empty)".into(),
        Node::Fail => "  => ! (fail)".into(),
        Node::Neg => "  => ~ (neg)".into(),
        Node::Leaf(b) => format!("  => {} {}", bound_text(b), addr_text(b)),
        Node::Alt(_) => "  (alternatives, first that is not ~ wins)".into(),
        Node::Union(_) => "  (weighted union)".into(),
        Node::Delegate(_) => String::new(),
    };
    let _ = writeln!(out, "{indent}{weight}{path}{dentry}{what}");
    match &t.node {
        Node::Delegate(child) => render_into(out, child, depth + 1, None),
        Node::Alt(ts) => ts.iter().for_each(|c| render_into(out, c, depth + 1, None)),
        Node::Union(ws) => ws
            .iter()
            .for_each(|(w, c)| render_into(out, c, depth + 1, Some(*w))),
        _ => {}
    }
}

fn bound_text(b: &Bound) -> String {
    NameTree::Leaf(b.clone()).to_string()
}

fn addr_text(b: &Bound) -> String {
    use l5d_core::addr::Addr;
    match b.addr_now() {
        Addr::Pending => "(pending)".into(),
        Addr::Neg => "(no such name)".into(),
        Addr::Failed(e) => format!("(failed: {e})"),
        Addr::Bound(addrs, _) => {
            let list: Vec<String> = addrs.iter().map(|a| a.addr.to_string()).collect();
            format!("({})", list.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_prints_finagles_canonical_form() {
        assert_eq!(
            show("/a => /b ; /c => .5*/d & .5*/e").unwrap(),
            "/a=>/b;/c=>0.50*/d & 0.50*/e"
        );
    }

    #[test]
    fn parse_errors_point_at_the_character() {
        let e = show("/a=>/b;/c=/d").unwrap_err();
        assert_eq!(
            e.0,
            "invalid dtab at character 10: '>' expected but '/' found at '/a=>/b;/c=[/]d'\n  /a=>/b;/c=/d\n            ^"
        );
    }

    #[tokio::test]
    async fn later_dtabs_win() {
        let dtab = read_dtabs(&[
            "/s=>/$/inet/127.0.0.1/1".into(),
            "/s=>/$/inet/127.0.0.1/2".into(),
        ])
        .unwrap();
        let out = bind(
            &ConfiguredNamers::system_only(),
            &dtab,
            &read_path("/s/x").unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(out, "/$/inet/127.0.0.1/2/x");
    }

    #[tokio::test]
    async fn delegate_renders_every_step() {
        let dtab = Dtab::read("/s=>/t | /$/inet/127.0.0.1/1; /t=>~").unwrap();
        let out = delegate(
            &ConfiguredNamers::system_only(),
            &dtab,
            &read_path("/s").unwrap(),
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            concat!(
                "/s  (alternatives, first that is not ~ wins)\n",
                "  /t  [/s=>/t | /$/inet/127.0.0.1/1]\n",
                "    ~  [/t=>~]  => ~ (neg)\n",
                "  /$/inet/127.0.0.1/1  [/s=>/t | /$/inet/127.0.0.1/1]  => /$/inet/127.0.0.1/1 (127.0.0.1:1)"
            )
        );
    }
}
