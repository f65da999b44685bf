//! Base-to-novel class split: base = first ⌈n/2⌉ labels, novel = the rest, each relabelled from 0.
use crate::types::{Dataset, Sample, Split};

/// `(base, novel)` class counts for `n` classes: (⌈n/2⌉, n − ⌈n/2⌉).
pub fn base_novel_counts(n: usize) -> (usize, usize) {
    let m = n.div_ceil(2);
    (m, n - m)
}

/// Keep the samples of base classes (labels `< ⌈n/2⌉`, unchanged). Use after few-shot sampling on
/// the full train split, as the protocol samples before filtering.
pub fn filter_to_base(samples: &[Sample], num_classes: usize) -> Vec<Sample> {
    let (m, _) = base_novel_counts(num_classes);
    samples.iter().filter(|s| s.label < m).cloned().collect()
}

/// Keep the samples of novel classes, relabelled `label − ⌈n/2⌉`.
pub fn filter_to_novel(samples: &[Sample], num_classes: usize) -> Vec<Sample> {
    let (m, _) = base_novel_counts(num_classes);
    samples
        .iter()
        .filter(|s| s.label >= m && s.label < num_classes)
        .map(|s| Sample {
            image: s.image.clone(),
            label: s.label - m,
        })
        .collect()
}

fn subset(d: &Dataset, base: bool) -> Dataset {
    let n = d.num_classes();
    let (m, _) = base_novel_counts(n);
    let f = |v: &[Sample]| {
        if base {
            filter_to_base(v, n)
        } else {
            filter_to_novel(v, n)
        }
    };
    let classnames = if base {
        d.classnames[..m].to_vec()
    } else {
        d.classnames[m..].to_vec()
    };
    Dataset {
        name: format!("{}-{}", d.name, if base { "base" } else { "novel" }),
        classnames,
        template: d.template.clone(),
        split: Split {
            train: f(&d.split.train),
            val: f(&d.split.val),
            test: f(&d.split.test),
        },
        root: d.root.clone(),
    }
}

/// Split a dataset into its base and novel halves (classes sorted by label id), with labels
/// remapped to `0..` inside each half and class names subset accordingly.
pub fn base_novel(d: &Dataset) -> (Dataset, Dataset) {
    (subset(d, true), subset(d, false))
}
