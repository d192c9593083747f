//! `corpus`: a suite's folder of inputs, through the one resolver: the
//! suite's key, `--corpus` over it, a canary inheriting it, no corpus for a
//! suite that names none (the MEMTEST_CORPUS each job gets is tested in
//! `plan/corpus_tests.rs`).

use super::*;

pub(crate) const TOML: &str = r#"
[build]
command = ["make"]
artifact = "libx.so"
lib_env = "X_LIB"
[build.variants.leaky]
args = ["LEAK=1"]
[fixtures]
dir = "fx"
[suites.py-corpus]
script = "s/a.py"
corpus = "${fixtures}/corpus"
canaries = [{ variant = "leaky" }]
[suites.py-plain]
script = "s/a.py"
canaries = []
"#;

pub(crate) fn config(dir: &Path) -> Config {
    std::fs::create_dir_all(dir.join("s")).unwrap();
    std::fs::write(dir.join("s/a.py"), "").unwrap();
    parse(TOML, &dir.join("memtest.toml"), dir).unwrap()
}

#[test]
fn a_suite_corpus_is_resolved_and_inherited_by_its_canary() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let table = [
        ("py-corpus", Some("${fixtures}/corpus"), Source::Suite),
        (
            "py-corpus-canary-leaky",
            Some("${fixtures}/corpus"),
            Source::Suite,
        ),
        ("py-plain", None, Source::Builtin),
    ];
    for (name, want, source) in table {
        let r = c
            .resolve(c.suite(name).unwrap(), &Invocation::default())
            .unwrap();
        assert_eq!(r.corpus.value.as_deref(), want, "{name}");
        assert_eq!(r.corpus.source, source, "{name}");
    }
}

#[test]
fn the_command_line_corpus_wins_and_stays_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let inv = Invocation {
        corpus: Some("/data/images".into()),
        ..Invocation::default()
    };
    let r = c.resolve(c.suite("py-corpus").unwrap(), &inv).unwrap();
    assert_eq!(r.corpus.value.as_deref(), Some("/data/images"));
    assert_eq!(r.corpus.source, Source::CommandLine);
}

#[test]
fn corpus_is_a_suite_key_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("s")).unwrap();
    std::fs::write(dir.path().join("s/a.py"), "").unwrap();
    let text = format!("{TOML}\n[defaults]\ncorpus = \"x\"\n");
    let err = parse(&text, &dir.path().join("memtest.toml"), dir.path()).unwrap_err();
    assert!(err.to_string().contains("corpus"), "{err}");
}
