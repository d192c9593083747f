//! The MEMTEST_CORPUS each job gets: the suite's `corpus` filled in and
//! joined to the folder of memtest.toml, the command line's kept absolute,
//! none for a suite without one.

use super::jobs::{plan, PlanOptions, CORPUS_ENV};
// The same memtest.toml as the resolver's corpus tests.
use crate::config::corpus_tests::config;
use crate::config::{Config, Invocation, Suite};
use crate::model::Artifacts;

fn corpus_env(c: &Config, inv: &Invocation) -> Vec<(String, Option<String>)> {
    let suites: Vec<&Suite> = c.suites.iter().collect();
    let resolved = c.resolve_all(&suites, inv).unwrap();
    let mut artifacts = Artifacts::default();
    for v in ["default", "leaky"] {
        artifacts
            .libs
            .insert(v.into(), format!("/lib/{v}/libx.so").into());
    }
    let jobs = plan(c, &resolved, &artifacts, &PlanOptions::default()).unwrap();
    jobs.into_iter()
        .map(|j| {
            let value = j.env.iter().find(|(k, _)| k == CORPUS_ENV);
            (j.suite, value.map(|(_, v)| v.clone()))
        })
        .collect()
}

#[test]
fn each_job_gets_its_suite_corpus_or_the_command_line_one() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let root = dir.path().display();
    assert_eq!(
        corpus_env(&c, &Invocation::default()),
        [
            ("py-corpus".into(), Some(format!("{root}/fx/corpus"))),
            (
                "py-corpus-canary-leaky".into(),
                Some(format!("{root}/fx/corpus"))
            ),
            ("py-plain".into(), None),
        ]
    );
    let inv = Invocation {
        corpus: Some("/data/images".into()),
        ..Invocation::default()
    };
    for (suite, value) in corpus_env(&c, &inv) {
        assert_eq!(value.as_deref(), Some("/data/images"), "{suite}");
    }
}
