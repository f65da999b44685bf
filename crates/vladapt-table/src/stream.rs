//! Pass 2 of a shard: the rows of its pending parts, read from the input as they are needed and
//! prepared (decoded, preprocessed) on a worker thread ahead of the consumer.
//!
//! The worker walks the input once, skips rows outside the pending parts, cuts each part into
//! batches of `batch_size` consecutive rows (a part's last batch may be shorter), prepares each
//! batch's rows in parallel (rayon) and hands it over a channel of `prefetch` batches. Memory is
//! bounded by `prefetch + 2` batches whatever the input's size; the worker stops reading at the
//! end of the last pending part.
use crate::error::{Result, TableError};
use crate::manifest::Item;
use crate::shard::Partition;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One batch of consecutive rows of one part.
#[derive(Debug)]
pub struct PartBatch<T> {
    /// The part these rows belong to.
    pub part: usize,
    /// True when this batch ends its part.
    pub ends_part: bool,
    /// `(row, item)` in row order.
    pub items: Vec<(u64, Item)>,
    /// Per item: the prepared input, or why it could not be prepared.
    pub prepared: Vec<std::result::Result<T, String>>,
}

/// Iterator over the batches of the pending parts (see the module docs). Dropping it stops the
/// worker.
pub struct BatchStream<T> {
    rx: Option<Receiver<Result<PartBatch<T>>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> BatchStream<T> {
    /// Start the worker over `rows` (the whole input, in row order). `pending` are the parts to
    /// produce, ascending; `prepare` runs on rayon's pool for every row of those parts.
    pub fn start<I, F>(
        rows: I,
        partition: Partition,
        pending: Vec<usize>,
        batch_size: usize,
        prefetch: usize,
        prepare: F,
    ) -> Result<Self>
    where
        I: Iterator<Item = Result<Item>> + Send + 'static,
        F: Fn(&Item) -> std::result::Result<T, String> + Send + Sync + 'static,
    {
        if batch_size == 0 || prefetch == 0 {
            return Err(TableError::Invalid {
                name: "batch stream",
                reason: "batch size and prefetch must be at least 1".into(),
            });
        }
        if pending.windows(2).any(|w| w[0] >= w[1]) {
            return Err(TableError::Invalid {
                name: "pending parts",
                reason: "must be strictly ascending".into(),
            });
        }
        let (tx, rx) = sync_channel(prefetch);
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let send = |b: Result<PartBatch<T>>| tx.send(b).is_ok();
            let mut next = 0usize; // index into `pending`
            let mut cur: Vec<(u64, Item)> = Vec::with_capacity(batch_size);
            let mut row = 0usize;
            let mut rows = rows;
            while next < pending.len() {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                let part = pending[next];
                let range = partition.part_rows(part);
                let Some(item) = rows.next() else {
                    send(Err(TableError::Invalid {
                        name: "input",
                        reason: format!(
                            "ended after {row} rows, but the plan has {} (was the manifest changed since the run was planned?)",
                            partition.total
                        ),
                    }));
                    return;
                };
                let item = match item {
                    Ok(i) => i,
                    Err(e) => {
                        send(Err(e));
                        return;
                    }
                };
                let r = row;
                row += 1;
                if r < range.start {
                    continue;
                }
                cur.push((r as u64, item));
                let ends_part = r + 1 == range.end;
                if cur.len() == batch_size || ends_part {
                    let items = std::mem::replace(&mut cur, Vec::with_capacity(batch_size));
                    let prepared = items.par_iter().map(|(_, it)| prepare(it)).collect();
                    if !send(Ok(PartBatch {
                        part,
                        ends_part,
                        items,
                        prepared,
                    })) {
                        return;
                    }
                    if ends_part {
                        next += 1;
                    }
                }
            }
        });
        Ok(BatchStream {
            rx: Some(rx),
            stop,
            handle: Some(handle),
        })
    }
}

impl<T> Iterator for BatchStream<T> {
    type Item = Result<PartBatch<T>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl<T> Drop for BatchStream<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.rx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vladapt_data::ImageRef;

    fn items(n: usize) -> Vec<Result<Item>> {
        (0..n)
            .map(|i| {
                Ok(Item {
                    id: format!("r{i}"),
                    image: ImageRef::File(format!("{i}.png").into()),
                    label: None,
                    text: None,
                })
            })
            .collect()
    }

    fn collect(
        n: usize,
        part: usize,
        pending: Vec<usize>,
        batch: usize,
    ) -> Vec<(usize, bool, Vec<u64>)> {
        let pt = Partition::new(n, part).unwrap();
        BatchStream::start(items(n).into_iter(), pt, pending, batch, 2, |it| {
            Ok::<_, String>(it.id.len())
        })
        .unwrap()
        .map(|b| {
            let b = b.unwrap();
            (
                b.part,
                b.ends_part,
                b.items.iter().map(|(r, _)| *r).collect(),
            )
        })
        .collect()
    }

    #[test]
    fn batches_cover_exactly_the_pending_parts_and_never_straddle_them() {
        // 11 rows, parts of 4: [0,4) [4,8) [8,11); batches of 2.
        let got = collect(11, 4, vec![1, 2], 2);
        assert_eq!(
            got,
            vec![
                (1, false, vec![4, 5]),
                (1, true, vec![6, 7]),
                (2, false, vec![8, 9]),
                (2, true, vec![10]),
            ]
        );
        // A part size that is not a multiple of the batch: the part's last batch is short.
        let got = collect(7, 3, vec![0, 2], 2);
        assert_eq!(
            got,
            vec![
                (0, false, vec![0, 1]),
                (0, true, vec![2]),
                (2, true, vec![6])
            ]
        );
        assert!(collect(7, 3, vec![], 2).is_empty());
    }

    #[test]
    fn a_short_input_is_an_error_not_a_silent_end() {
        let pt = Partition::new(10, 4).unwrap();
        let mut s = BatchStream::start(items(9).into_iter(), pt, vec![1, 2], 4, 1, |_| {
            Ok::<_, String>(())
        })
        .unwrap();
        assert_eq!(s.next().unwrap().unwrap().items.len(), 4);
        let e = s.next().unwrap().unwrap_err().to_string();
        assert!(e.contains("ended after 9 rows") && e.contains("10"), "{e}");
        assert!(s.next().is_none());
    }

    #[test]
    fn preparation_failures_stay_with_their_row() {
        let pt = Partition::new(5, 5).unwrap();
        let b: Vec<_> = BatchStream::start(items(5).into_iter(), pt, vec![0], 5, 1, |it| {
            if it.id == "r3" {
                Err("bad".to_string())
            } else {
                Ok(it.id.clone())
            }
        })
        .unwrap()
        .collect();
        let b = b.into_iter().next().unwrap().unwrap();
        assert_eq!(b.prepared[3], Err("bad".to_string()));
        assert_eq!(b.prepared[4], Ok("r4".to_string()));
    }
}
