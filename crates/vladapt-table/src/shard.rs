//! Deterministic, disjoint partition of a row list into parts and shards.
//!
//! Rows `0..total` are cut into *parts* of `part_size` consecutive rows (the last part may be
//! shorter); shard `i` of `N` owns the contiguous part range `[i·P/N, (i+1)·P/N)` with
//! `P = ceil(total / part_size)`. Part boundaries do not depend on `N`, so every part — and every
//! batch inside it when `part_size` is a multiple of the batch size — holds the same rows whatever
//! the number of shards: N shards merged give the same bytes as one process.
use crate::error::{Result, TableError};
use std::ops::Range;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Number of shards (≥ 1).
    pub count: usize,
}

impl Shard {
    /// The whole input as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// A checked shard.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(TableError::Shard {
                spec: format!("{index}/{count}"),
                reason: "expected i/N with N ≥ 1 and 0 ≤ i < N".into(),
            });
        }
        Ok(Shard { index, count })
    }

    /// Parse `i/N` (0-based `i`).
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |reason: &str| TableError::Shard {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let (i, n) = spec
            .split_once('/')
            .ok_or_else(|| bad("expected i/N, e.g. 0/4"))?;
        let i: usize = i.trim().parse().map_err(|_| bad("i is not a number"))?;
        let n: usize = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        Shard::new(i, n).map_err(|_| bad("expected N ≥ 1 and 0 ≤ i < N"))
    }

    /// Shard of `count` whose index comes from the job engine's environment:
    /// `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job), else `SLURM_ARRAY_TASK_ID` minus
    /// `SLURM_ARRAY_TASK_MIN` (Slurm job array; the minimum defaults to 0).
    pub fn from_env(count: usize, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let num = |name: &str, v: String| -> Result<usize> {
            v.trim().parse().map_err(|_| TableError::Shard {
                spec: format!("{name}={v}"),
                reason: "not a non-negative integer".into(),
            })
        };
        let index = if let Some(v) = env("JOB_COMPLETION_INDEX") {
            num("JOB_COMPLETION_INDEX", v)?
        } else if let Some(v) = env("SLURM_ARRAY_TASK_ID") {
            let id = num("SLURM_ARRAY_TASK_ID", v)?;
            let min = match env("SLURM_ARRAY_TASK_MIN") {
                Some(m) => num("SLURM_ARRAY_TASK_MIN", m)?,
                None => 0,
            };
            id.checked_sub(min).ok_or_else(|| TableError::Shard {
                spec: format!("SLURM_ARRAY_TASK_ID={id}"),
                reason: format!("below SLURM_ARRAY_TASK_MIN={min}"),
            })?
        } else {
            return Err(TableError::Shard {
                spec: format!("?/{count}"),
                reason:
                    "neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set; pass --shard i/N"
                        .into(),
            });
        };
        Shard::new(index, count).map_err(|_| TableError::Shard {
            spec: format!("{index}/{count}"),
            reason: format!("the job index {index} is not below the shard count {count}"),
        })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The cut of `total` rows into parts of `part_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// Number of rows.
    pub total: usize,
    /// Rows per part (≥ 1).
    pub part_size: usize,
}

impl Partition {
    /// A partition; `part_size` must be positive.
    pub fn new(total: usize, part_size: usize) -> Result<Self> {
        if part_size == 0 {
            return Err(TableError::Invalid {
                name: "part size",
                reason: "must be at least 1".into(),
            });
        }
        Ok(Partition { total, part_size })
    }

    /// Number of parts `ceil(total / part_size)`.
    pub fn num_parts(&self) -> usize {
        self.total.div_ceil(self.part_size)
    }

    /// Rows of part `p`.
    pub fn part_rows(&self, p: usize) -> Range<usize> {
        let start = (p * self.part_size).min(self.total);
        start..(start + self.part_size).min(self.total)
    }

    /// Parts owned by `shard`: `[i·P/N, (i+1)·P/N)`.
    pub fn shard_parts(&self, shard: Shard) -> Range<usize> {
        let p = self.num_parts();
        (shard.index * p / shard.count)..((shard.index + 1) * p / shard.count)
    }

    /// Rows owned by `shard` (contiguous).
    pub fn shard_rows(&self, shard: Shard) -> Range<usize> {
        let parts = self.shard_parts(shard);
        if parts.is_empty() {
            return 0..0;
        }
        self.part_rows(parts.start).start..self.part_rows(parts.end - 1).end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_i_of_n_and_rejects_the_rest() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        for bad in ["4/4", "0/0", "x/2", "1", "-1/3", "1/"] {
            let e = Shard::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn env_index_kubernetes_then_slurm_with_min() {
        let k8s = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
        assert_eq!(
            Shard::from_env(4, k8s).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let slurm = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("5".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("4".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::from_env(2, slurm).unwrap(),
            Shard { index: 1, count: 2 }
        );
        assert!(Shard::from_env(3, k8s)
            .unwrap_err()
            .to_string()
            .contains("3/3"));
        let none = |_: &str| None;
        assert!(Shard::from_env(2, none)
            .unwrap_err()
            .to_string()
            .contains("JOB_COMPLETION_INDEX"));
    }

    #[test]
    fn shards_cover_every_part_exactly_once() {
        for total in [0usize, 1, 7, 10, 64, 101] {
            for part in [1usize, 3, 10] {
                let pt = Partition::new(total, part).unwrap();
                for n in 1..=7 {
                    let mut next_row = 0;
                    let mut next_part = 0;
                    for i in 0..n {
                        let s = Shard::new(i, n).unwrap();
                        let parts = pt.shard_parts(s);
                        assert_eq!(parts.start, next_part);
                        next_part = parts.end;
                        let rows = pt.shard_rows(s);
                        if !rows.is_empty() {
                            assert_eq!(rows.start, next_row);
                            next_row = rows.end;
                        }
                    }
                    assert_eq!(next_part, pt.num_parts());
                    assert_eq!(next_row, total);
                }
            }
        }
    }

    #[test]
    fn part_boundaries_do_not_depend_on_the_shard_count() {
        let pt = Partition::new(10, 3).unwrap();
        assert_eq!(pt.num_parts(), 4);
        let rows: Vec<_> = (0..4).map(|p| pt.part_rows(p)).collect();
        assert_eq!(rows, vec![0..3, 3..6, 6..9, 9..10]);
        // 4 parts over 3 shards: [0,1), [1,2), [2,4).
        let s: Vec<_> = (0..3)
            .map(|i| pt.shard_parts(Shard::new(i, 3).unwrap()))
            .collect();
        assert_eq!(s, vec![0..1, 1..2, 2..4]);
    }
}
