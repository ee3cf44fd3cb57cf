//! Sorting and looking up more than a run should hold in memory, with the run's spill
//! (`engine::spill`) as the disk: `ExternalSort` sorts records in runs of bounded size that
//! wait in a spill and are merged as they are read back; `Table` keeps sorted records in a
//! spill a block at a time, with only each block's first key and a few recent blocks in
//! memory. The kustomize graph of a large monorepo is built and looked up this way: held in
//! memory whole, it was most of a large run's peak memory (bench/README.md).

use crate::engine::spill::{Spill, SpillReader, SpillRef};
use crate::form::{Reader, Writer};
use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// What can wait in a spill: written in the run's byte form (`crate::form`) and made again
/// from it.
pub trait Record: Sized {
    fn encode(&self, w: &mut Writer);
    fn decode(r: &mut Reader) -> Option<Self>;
    /// About the bytes it holds in memory, beyond its own size: what a sort's run is
    /// measured by.
    fn weight(&self) -> usize;
}

/// The encoded bytes gathered into one block of a run or a table: big enough that a block is
/// one read, small enough that the blocks a merge or a table's cache holds stay small.
const BLOCK_BYTES: usize = 16 << 10;

/// The memory a sort's run may take before it is sorted and put away (its list may take up
/// to twice that, as it grows by doubling).
const RUN_BUDGET: usize = 4 << 20;

/// The blocks of a table kept decoded, the oldest read going first: lookups come in the
/// files' order, so the blocks near the current path are the ones asked for again. A block
/// asked for after it went is read again (from the system's page cache, as a rule).
const CACHE_BLOCKS: usize = 64;

/// How records are ordered: a plain function, so that a sort's type can be named.
pub type Order<T> = fn(&T, &T) -> Ordering;

/// Whether the record just taken from `records` is the last of its group: the next record is
/// not `same` (or there is none, or an error comes next, which the caller meets then).
pub fn ends_group<T, I: Iterator<Item = Result<T, String>>>(
    records: &mut std::iter::Peekable<I>,
    same: impl FnOnce(&T) -> bool,
) -> bool {
    !matches!(records.peek(), Some(Ok(next)) if same(next))
}

/// Writes records into sealed blocks of about `BLOCK_BYTES`, each put into `spill`.
struct BlockWriter {
    body: Vec<u8>,
    count: usize,
}

impl BlockWriter {
    fn new() -> BlockWriter {
        BlockWriter {
            body: Vec::new(),
            count: 0,
        }
    }

    /// Adds one record (written by `encode`); returns the block it filled, if it filled one.
    fn add(
        &mut self,
        encode: impl FnOnce(&mut Writer),
        spill: &Spill,
    ) -> Result<Option<SpillRef>, String> {
        encode(&mut Writer {
            out: &mut self.body,
        });
        self.count += 1;
        if self.body.len() >= BLOCK_BYTES {
            return self.flush(spill);
        }
        Ok(None)
    }

    /// Puts away the records added since the last block, if any.
    fn flush(&mut self, spill: &Spill) -> Result<Option<SpillRef>, String> {
        if self.count == 0 {
            return Ok(None);
        }
        let mut block = Vec::with_capacity(self.body.len() + 16);
        Writer { out: &mut block }.number(self.count);
        block.extend_from_slice(&self.body);
        crate::form::seal(&mut block, 0);
        self.body.clear();
        self.count = 0;
        spill
            .put_bytes(&block)
            .map(Some)
            .ok_or_else(|| "a block of sorted records could not be put away".to_string())
    }
}

/// The records of the block at `at`, each made by `decode`.
fn read_block<T>(
    reader: &SpillReader,
    at: SpillRef,
    mut decode: impl FnMut(&mut Reader) -> Option<T>,
) -> Result<Vec<T>, String> {
    reader.decoded(at, "sorted records", |bytes| {
        let mut r = crate::form::unseal(bytes)?;
        let count = r.count(1)?;
        let records = (0..count)
            .map(|_| decode(&mut r))
            .collect::<Option<Vec<T>>>()?;
        r.bytes.is_empty().then_some(records)
    })
}

/// Sorts records by `order`, stably (equal records come back in the order pushed), holding at
/// most about `RUN_BUDGET` bytes of them at once: each full run is sorted and put away, and
/// the runs are merged as the result is read.
pub struct ExternalSort<T, O> {
    order: O,
    /// The records of the run being gathered, each numbered as pushed: sorted in place by
    /// record and number, which is as stable as a stable sort without the buffer one takes
    /// (as large as the run).
    held: Vec<(u64, T)>,
    pushed: u64,
    weight: usize,
    budget: usize,
    spill: Option<Spill>,
    /// The blocks of each run put away, in the order the runs were made.
    runs: Vec<Vec<SpillRef>>,
    error: Option<String>,
    what: &'static str,
}

impl<T: Record, O: Fn(&T, &T) -> Ordering> ExternalSort<T, O> {
    /// A sort of `what` (named in errors) by `order`.
    pub fn new(what: &'static str, order: O) -> ExternalSort<T, O> {
        ExternalSort::with_budget(what, order, RUN_BUDGET)
    }

    fn with_budget(what: &'static str, order: O, budget: usize) -> ExternalSort<T, O> {
        ExternalSort {
            order,
            held: Vec::new(),
            pushed: 0,
            weight: 0,
            budget,
            spill: None,
            runs: Vec::new(),
            error: None,
            what,
        }
    }

    pub fn push(&mut self, record: T) {
        self.weight += record.weight() + std::mem::size_of::<(u64, T)>();
        self.held.push((self.pushed, record));
        self.pushed += 1;
        if self.weight >= self.budget {
            self.put_run_away();
        }
    }

    fn sort_held(&mut self) {
        let order = &self.order;
        self.held.sort_unstable_by(|(a_number, a), (b_number, b)| {
            order(a, b).then(a_number.cmp(b_number))
        });
    }

    /// Sorts what is held and puts it away as a run. The list keeps its room for the next.
    fn put_run_away(&mut self) {
        self.weight = 0;
        if self.error.is_some() {
            self.held.clear();
            return;
        }
        self.sort_held();
        let spill = self.spill.get_or_insert_with(Spill::new);
        let mut blocks = Vec::new();
        let mut writer = BlockWriter::new();
        let mut written = Ok(());
        for (_, record) in &self.held {
            match writer.add(|w| record.encode(w), spill) {
                Ok(block) => blocks.extend(block),
                Err(e) => {
                    written = Err(e);
                    break;
                }
            }
        }
        self.held.clear();
        match written.and_then(|()| writer.flush(spill)) {
            Ok(block) => {
                blocks.extend(block);
                self.runs.push(blocks);
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Every record pushed, in order; an error (named for `what`) when a run could not be
    /// put away, or, as the last item, when one cannot be read back.
    pub fn finish(mut self) -> Result<Sorted<T, O>, String> {
        if let Some(e) = self.error.take() {
            return Err(format!("{}: {e}", self.what));
        }
        self.sort_held();
        let held: Vec<T> = std::mem::take(&mut self.held)
            .into_iter()
            .map(|(_, record)| record)
            .collect();
        let reader = self.spill.take().map(Spill::finish);
        let mut cursors: Vec<Cursor<T>> = self
            .runs
            .into_iter()
            .map(|blocks| Cursor {
                blocks: blocks.into(),
                records: Vec::new().into_iter(),
                head: None,
            })
            .collect();
        // The run still in memory is the last made: on equal records, it comes last.
        cursors.push(Cursor {
            blocks: VecDeque::new(),
            records: held.into_iter(),
            head: None,
        });
        let mut sorted = Sorted {
            order: self.order,
            reader,
            cursors,
            failed: None,
            what: self.what,
        };
        for at in 0..sorted.cursors.len() {
            sorted.advance(at);
        }
        Ok(sorted)
    }
}

/// One run being merged: its blocks still to read, the records of the block read, and its
/// next record.
struct Cursor<T> {
    blocks: VecDeque<SpillRef>,
    records: std::vec::IntoIter<T>,
    head: Option<T>,
}

/// The records of an `ExternalSort`, in order.
pub struct Sorted<T, O> {
    order: O,
    reader: Option<SpillReader>,
    cursors: Vec<Cursor<T>>,
    failed: Option<String>,
    what: &'static str,
}

impl<T: Record, O: Fn(&T, &T) -> Ordering> Sorted<T, O> {
    /// Moves run `at` on to its next record, reading its next block when one is done.
    fn advance(&mut self, at: usize) {
        let cursor = &mut self.cursors[at];
        loop {
            if let Some(record) = cursor.records.next() {
                cursor.head = Some(record);
                return;
            }
            let Some(block) = cursor.blocks.pop_front() else {
                cursor.head = None;
                return;
            };
            let Some(reader) = &self.reader else {
                // Blocks without their spill: never made so, but never fewer records either.
                self.failed
                    .get_or_insert_with(|| "its sorted records were not kept".into());
                cursor.head = None;
                return;
            };
            match read_block(reader, block, T::decode) {
                Ok(records) => cursor.records = records.into_iter(),
                Err(e) => {
                    self.failed.get_or_insert(e);
                    cursor.head = None;
                    return;
                }
            }
        }
    }
}

impl<T: Record, O: Fn(&T, &T) -> Ordering> Iterator for Sorted<T, O> {
    type Item = Result<T, String>;

    fn next(&mut self) -> Option<Result<T, String>> {
        if let Some(e) = self.failed.take() {
            // Nothing more after a run that could not be read back: its records are missing.
            self.cursors.clear();
            return Some(Err(format!("{}: {e}", self.what)));
        }
        // The runs are few (each holds `RUN_BUDGET`: a few dozen for a million files), so the
        // smallest head is looked for in turn (a heap would pay off only with hundreds); of
        // equal heads the earlier run's comes first, which keeps the sort stable.
        let mut smallest: Option<usize> = None;
        for (at, cursor) in self.cursors.iter().enumerate() {
            let Some(head) = &cursor.head else { continue };
            let better = smallest.is_none_or(|best| {
                let best = self.cursors[best].head.as_ref();
                best.is_none_or(|best| (self.order)(head, best).is_lt())
            });
            if better {
                smallest = Some(at);
            }
        }
        let at = smallest?;
        let record = self.cursors[at].head.take();
        self.advance(at);
        record.map(Ok)
    }
}

/// Records by a text key, sorted, kept in a spill a block at a time: in memory are each
/// block's first key and the last `CACHE_BLOCKS` blocks read. Looked up from any thread.
pub struct Table<V> {
    /// Each block's first key and place.
    index: Vec<(Box<str>, SpillRef)>,
    reader: Option<SpillReader>,
    cache: Mutex<Cache<V>>,
    what: &'static str,
}

type Block<V> = Arc<[(Box<str>, Arc<V>)]>;

struct Cache<V> {
    blocks: HashMap<usize, Block<V>>,
    /// The blocks held, the oldest first: the first to go.
    order: VecDeque<usize>,
}

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Cache {
            blocks: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            index: Vec::new(),
            reader: None,
            cache: Mutex::default(),
            what: "table",
        }
    }
}

/// Builds a `Table` from records pushed in strictly increasing key order.
pub struct TableWriter<V> {
    /// Made with the first record: an empty table needs no temporary file.
    spill: Option<Spill>,
    index: Vec<(Box<str>, SpillRef)>,
    writer: BlockWriter,
    /// The first key of the block being written, and the last key pushed.
    first: Option<Box<str>>,
    last: Option<Box<str>>,
    error: Option<String>,
    what: &'static str,
    value: std::marker::PhantomData<V>,
}

impl<V: Record> TableWriter<V> {
    pub fn new(what: &'static str) -> TableWriter<V> {
        TableWriter {
            spill: None,
            index: Vec::new(),
            writer: BlockWriter::new(),
            first: None,
            last: None,
            error: None,
            what,
            value: std::marker::PhantomData,
        }
    }

    /// Adds `value` under `key`, which must be greater than every key added before.
    pub fn push(&mut self, key: &str, value: &V) {
        if self.error.is_some() {
            return;
        }
        if self.last.as_deref().is_some_and(|last| last >= key) {
            self.error = Some(format!("keys out of order at {key:?}"));
            return;
        }
        self.last = Some(key.into());
        if self.first.is_none() {
            self.first = Some(key.into());
        }
        let added = self.writer.add(
            |w| {
                w.text(key);
                value.encode(w);
            },
            self.spill.get_or_insert_with(Spill::new),
        );
        self.record_block(added);
    }

    fn record_block(&mut self, block: Result<Option<SpillRef>, String>) {
        match block {
            Ok(Some(at)) => {
                if let Some(first) = self.first.take() {
                    self.index.push((first, at));
                }
            }
            Ok(None) => {}
            Err(e) => self.error = Some(e),
        }
    }

    /// The table; an error when a block could not be put away or the keys came out of order.
    pub fn finish(mut self) -> Result<Table<V>, String> {
        if let Some(spill) = &self.spill {
            let last = self.writer.flush(spill);
            self.record_block(last);
        }
        if let Some(e) = self.error {
            return Err(format!("{}: {e}", self.what));
        }
        self.index.shrink_to_fit();
        Ok(Table {
            index: self.index,
            reader: self.spill.map(Spill::finish),
            cache: Mutex::default(),
            what: self.what,
        })
    }
}

impl<V: Record> Table<V> {
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// What the table holds, as its errors name it.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The value under `key`, if any; an error when its block cannot be read back.
    pub fn get(&self, key: &str) -> Result<Option<Arc<V>>, String> {
        // The last block whose first key is not after `key`.
        let Some(at) = self
            .index
            .partition_point(|(first, _)| **first <= *key)
            .checked_sub(1)
        else {
            return Ok(None);
        };
        let block = self.block(at)?;
        Ok(block
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| Arc::clone(&block[i].1)))
    }

    /// Block `at`, from the cache or read back (outside the lock: two threads may read the
    /// same block at once, and one copy is kept).
    fn block(&self, at: usize) -> Result<Block<V>, String> {
        if let Some(block) = self.lock().blocks.get(&at) {
            return Ok(Arc::clone(block));
        }
        let reader = self
            .reader
            .as_ref()
            .ok_or_else(|| format!("{}: nothing was kept", self.what))?;
        let records = read_block(reader, self.index[at].1, |r| {
            Some((r.text()?.into_boxed_str(), Arc::new(V::decode(r)?)))
        })
        .map_err(|e| format!("{}: {e}", self.what))?;
        let block: Block<V> = records.into();
        let mut cache = self.lock();
        let Cache { blocks, order } = &mut *cache;
        if let std::collections::hash_map::Entry::Vacant(place) = blocks.entry(at) {
            place.insert(Arc::clone(&block));
            order.push_back(at);
            while order.len() > CACHE_BLOCKS {
                if let Some(oldest) = order.pop_front() {
                    blocks.remove(&oldest);
                }
            }
        }
        Ok(block)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache<V>> {
        // The cache holds nothing a panic could leave half-made: a block is in it whole or not.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Item {
        key: String,
        order: usize,
    }

    impl Record for Item {
        fn encode(&self, w: &mut Writer) {
            w.text(&self.key);
            w.number(self.order);
        }
        fn decode(r: &mut Reader) -> Option<Item> {
            Some(Item {
                key: r.text()?,
                order: r.number()?,
            })
        }
        fn weight(&self) -> usize {
            self.key.len()
        }
    }

    fn items(n: usize) -> Vec<Item> {
        // Keys repeat (n / 7 distinct), in a scrambled order.
        (0..n)
            .map(|order| Item {
                key: format!("k{:05}", (order * 7919) % (n / 7 + 1)),
                order,
            })
            .collect()
    }

    /// Many runs put away and merged give what one stable in-memory sort gives.
    #[test]
    fn runs_merged_are_one_stable_sort() {
        let all = items(20_000);
        let by_key = |a: &Item, b: &Item| a.key.cmp(&b.key);
        // A small budget: dozens of runs, each many blocks.
        let mut sort = ExternalSort::with_budget("items", by_key, 64 << 10);
        for item in all.clone() {
            sort.push(item);
        }
        assert!(sort.runs.len() > 10, "{} runs", sort.runs.len());
        let merged: Vec<Item> = sort
            .finish()
            .expect("finished")
            .collect::<Result<_, _>>()
            .expect("read back");
        let mut want = all;
        want.sort_by(by_key);
        assert_eq!(merged, want);
        let empty = ExternalSort::new("none", by_key).finish().expect("empty");
        assert_eq!(empty.count(), 0);
    }

    /// A table finds every key it holds, across many blocks and after its cache has turned
    /// over, and no key it does not hold.
    #[test]
    fn a_table_finds_its_keys_across_blocks() {
        let mut writer = TableWriter::new("items");
        let n = 40_000;
        for i in 0..n {
            let key = format!("key/{i:06}");
            // Long values: many blocks, more than the cache holds.
            let value = Item {
                key: format!("{key:>200}"),
                order: i * 2,
            };
            writer.push(&key, &value);
        }
        let table = writer.finish().expect("table");
        assert!(
            table.index.len() > CACHE_BLOCKS,
            "{} blocks",
            table.index.len()
        );
        for i in (0..n).rev().step_by(7).chain((0..n).step_by(13)) {
            let found = table.get(&format!("key/{i:06}")).expect("read");
            assert_eq!(found.map(|v| v.order), Some(i * 2));
        }
        for absent in ["", "a", "key/", "key/000000x", "key/9", "z"] {
            assert_eq!(table.get(absent).expect("read"), None, "{absent}");
        }
        assert!(table.lock().blocks.len() <= CACHE_BLOCKS);
        assert!(Table::<Item>::default().get("x").expect("empty").is_none());
    }

    /// A block that comes back damaged is an error, never records misread or dropped in
    /// silence: in a merge, as its last item; in a table, from the lookup.
    #[test]
    fn a_damaged_block_is_an_error() {
        let by_key = |a: &Item, b: &Item| a.key.cmp(&b.key);
        let mut sort = ExternalSort::with_budget("items", by_key, 64 << 10);
        for item in items(20_000) {
            sort.push(item);
        }
        sort.runs[1][0] = sort.runs[1][0].shifted_for_test();
        let merged: Vec<_> = sort.finish().expect("finished").collect();
        let error = merged
            .last()
            .expect("items")
            .as_ref()
            .expect_err("an error last");
        assert!(error.starts_with("items: its sorted records"), "{error}");
        assert_eq!(merged.iter().filter(|r| r.is_err()).count(), 1);

        let mut writer = TableWriter::new("table of items");
        for i in 0..2000 {
            let key = format!("key/{i:06}");
            let value = Item {
                key: format!("{key:>200}"),
                order: i,
            };
            writer.push(&key, &value);
        }
        let mut table = writer.finish().expect("table");
        table.index[3].1 = table.index[3].1.shifted_for_test();
        let first_of_damaged = table.index[3].0.to_string();
        assert!(table.get("key/000000").expect("another block").is_some());
        let error = table.get(&first_of_damaged).expect_err("an error");
        assert!(
            error.starts_with("table of items: its sorted records"),
            "{error}"
        );
    }

    #[test]
    fn keys_out_of_order_are_refused() {
        let mut writer = TableWriter::new("items");
        let item = Item {
            key: String::new(),
            order: 0,
        };
        writer.push("b", &item);
        writer.push("a", &item);
        let error = writer.finish().map(|_| ()).expect_err("refused");
        assert!(error.contains("out of order"), "{error}");
    }
}
