//! A minimal XML element tree for request bodies (CreateJob, PutJobTagging) and escaping for responses.
//!
//! Owns parsing with `quick-xml` into [`Element`] (local names, text unescaped, attributes and namespaces
//! ignored, as the service's restXml parser does) and writing an element back out (to echo CreateJob's
//! `Operation`, `Manifest` and `Report` in DescribeJob). Does not know any S3 Control shape (see `wire.rs`).

use std::fmt::Write as _;

use quick_xml::events::Event;

/// One XML element: local name, children and concatenated text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Element {
    /// Local name (namespace prefix removed).
    pub(crate) name: String,
    /// Child elements in document order.
    pub(crate) children: Vec<Element>,
    /// Text directly inside this element, unescaped.
    pub(crate) text: String,
}

impl Element {
    /// The first child named `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The trimmed text of the first child named `name`.
    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Writes this element (and its subtree) as XML without a namespace.
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "<{}>", self.name);
        if self.children.is_empty() {
            out.push_str(&escape(self.text.trim()));
        } else {
            for child in &self.children {
                child.write(out);
            }
        }
        let _ = write!(out, "</{}>", self.name);
    }
}

/// Parses a document into its root element; `None` with a message when it is not well-formed XML.
pub(crate) fn parse(body: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(start) => stack.push(Element {
                name: start.local_name().as_ref().to_owned(),
                ..Element::default()
            }),
            Event::Empty(start) => {
                let element = Element {
                    name: start.local_name().as_ref().to_owned(),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Ok(element),
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&data.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let name = reference.into_inner();
                let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                    .map_err(|e| format!("bad entity reference &{name};: {e}"))?
                    .into_owned();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => return Err("no root element".to_owned()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// Escapes text for element content.
pub(crate) fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_and_entities() {
        let doc = r#"<?xml version="1.0"?><a:Root xmlns:a="x"><Tags><member><Key>k&amp;1</Key><Value/></member></Tags></a:Root>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Root");
        let member = &root.child("Tags").unwrap().children[0];
        assert_eq!(member.child_text("Key"), Some("k&1"));
        assert_eq!(member.child_text("Value"), Some(""));
    }

    #[test]
    fn round_trips_with_escaping() {
        let root = parse("<R><A>x &lt; y</A></R>").unwrap();
        let mut out = String::new();
        root.write(&mut out);
        assert_eq!(out, "<R><A>x &lt; y</A></R>");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("").is_err());
        assert!(parse("<a><b></a>").is_err());
    }
}
