//! The JSON of Linkerd 1's `/delegator.json` (`DelegateApiHandler.JsonDelegateTree`).

use serde_json::{json, Map, Value};

use crate::binding::Bound;
use crate::naming::Path;

use super::{DelegateTree, Node};

fn show_path(p: &Path) -> Value {
    Value::String(p.show())
}

impl DelegateTree<Bound> {
    /// The JSON linkerd serves: `type` first, then `path`, then `dentry` (left out for the
    /// root's no-op dentry), then the node's own field; leaves carry the bound name with its
    /// current address set.
    pub fn to_json(&self) -> Value {
        crate::recursion::grow(|| self.json_step())
    }

    fn json_step(&self) -> Value {
        let mut m = Map::new();
        let kind = match &self.node {
            Node::Exception(_) => "exception",
            Node::Empty => "empty",
            Node::Fail => "fail",
            Node::Neg => "neg",
            Node::Delegate(_) => "delegate",
            Node::Leaf(_) => "leaf",
            Node::Alt(_) => "alt",
            Node::Union(_) => "union",
        };
        m.insert("type".into(), kind.into());
        let path = match &self.node {
            Node::Neg if self.path.is_empty() => "~".into(),
            Node::Fail if !self.path.starts_with(&Path::from_elems(["$", "fail"])) => "!".into(),
            _ => show_path(&self.path),
        };
        m.insert("path".into(), path);
        if !self.dentry.is_nop() {
            m.insert("dentry".into(), json!({"prefix": self.dentry.prefix.to_string(), "dst": self.dentry.dst.to_string()}));
        }
        match &self.node {
            Node::Exception(message) => {
                m.insert("message".into(), message.as_str().into());
            }
            Node::Delegate(child) => {
                m.insert("delegate".into(), child.to_json());
            }
            Node::Leaf(b) => {
                m.insert(
                    "bound".into(),
                    json!({"addr": b.addr_now().to_json(), "id": b.id.show(), "path": b.residual.show()}),
                );
            }
            Node::Alt(ts) => {
                m.insert("alt".into(), ts.iter().map(DelegateTree::to_json).collect());
            }
            Node::Union(ws) => {
                let members = ws
                    .iter()
                    .map(|(w, t)| json!({"weight": w, "tree": t.to_json()}))
                    .collect();
                m.insert("union".into(), members);
            }
            Node::Empty | Node::Fail | Node::Neg => {}
        }
        Value::Object(m)
    }
}
