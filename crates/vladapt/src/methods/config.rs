//! The `[method]` table of a run config: [`MethodKind`], [`MethodConfig`] (generated from the
//! registration list in [`super`]) and every method's configuration type, re-exported from the
//! method's own file. Defaults equal the official configs (methods.md §2).
pub use super::configs::*;
pub use super::coop::ClassTokenPosition;
pub use super::{MethodConfig, MethodKind};

impl MethodKind {
    /// Parse a CLI name (`_` for `-` accepted); unknown names list the known ones.
    pub fn parse(s: &str) -> crate::Result<Self> {
        Self::all()
            .into_iter()
            .find(|k| k.name() == s || k.name().replace('-', "_") == s)
            .ok_or_else(|| {
                crate::VladaptError::unknown_name("method", s, Self::all().iter().map(|k| k.name()))
            })
    }
}

impl std::fmt::Display for MethodKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_its_config_tag_and_parses_back() {
        for kind in MethodKind::all() {
            let tag = serde_json::to_value(kind).unwrap();
            assert_eq!(
                tag,
                kind.name(),
                "MethodSpec::NAME differs from the serde name"
            );
            let cfg = serde_json::to_value(MethodConfig::default_for(kind)).unwrap();
            assert_eq!(cfg["name"], kind.name());
            assert_eq!(MethodKind::parse(kind.name()).unwrap(), kind);
            assert_eq!(MethodConfig::default_for(kind).kind(), kind);
        }
        let e = MethodKind::parse("nope").unwrap_err().to_string();
        assert!(e.contains("coop") && e.contains("linear-probe"), "{e}");
    }
}
