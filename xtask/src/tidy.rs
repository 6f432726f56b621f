//! Tidy checks that run as ordinary tests: every Rust file opens with a `//!` doc
//! comment, and no `dbg!` is left behind.

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target"
                    && name != "node_modules"
                    && !name.to_string_lossy().starts_with('.')
                {
                    rust_files(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    fn project_files() -> Vec<PathBuf> {
        let root = crate::project_root().unwrap();
        let mut files = Vec::new();
        for dir in ["crates", "xtask", "benches"] {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(
            files.len() > 10,
            "the tidy check found too few files: {files:?}"
        );
        files
    }

    #[test]
    fn every_rust_file_opens_with_a_module_doc() {
        let missing: Vec<_> = project_files()
            .into_iter()
            .filter(|f| {
                !fs::read_to_string(f)
                    .unwrap()
                    .trim_start()
                    .starts_with("//!")
            })
            .collect();
        assert!(
            missing.is_empty(),
            "files without a leading `//!` doc comment: {missing:#?}"
        );
    }

    #[test]
    fn no_dbg_macros_are_left_behind() {
        let needle = concat!("dbg", "!(");
        let found: Vec<_> = project_files()
            .into_iter()
            .filter(|f| fs::read_to_string(f).unwrap().contains(needle))
            .collect();
        assert!(
            found.is_empty(),
            "remove the debugging macros in: {found:#?}"
        );
    }
}
