//! The open flows of a shard: the flows packed in a vector, found through a hash table of
//! their positions.
//!
//! Why not the flows in the hash table itself: a table doubles when its flows cross a
//! power of two and spreads them over all its buckets, so a doubled table is touched
//! whole. On a 1,008 s capture at 20k packets/s with 200 streams the shards' tables held
//! 94 MiB at the heap's peak against 48.5 MiB over its first 265 s. Here the table holds
//! 4-byte positions and the vector's unused capacity is never touched, so memory follows
//! the number of open flows.

use hashbrown::HashTable;

use super::key::FlowKey;
use super::record::Flow;

/// Open flows by key; each flow's `hash` is its key's hash and must be set before it is
/// inserted.
#[derive(Default)]
pub struct OpenFlows {
    flows: Vec<Flow>,
    /// Positions in `flows`, hashed by the flow's `hash`.
    index: HashTable<u32>,
}

impl OpenFlows {
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// The open flow of `key` (whose hash is `hash`).
    #[inline]
    pub fn find_mut(&mut self, hash: u64, key: &FlowKey) -> Option<&mut Flow> {
        let at = self.position(hash, key)?;
        Some(&mut self.flows[at])
    }

    /// Adds `flow`, of a key that has no open flow, and returns it.
    #[inline]
    pub fn insert(&mut self, flow: Flow) -> &mut Flow {
        debug_assert!(self.find_mut(flow.hash, &flow.key).is_none());
        let at = u32::try_from(self.flows.len()).expect("fewer than 2^32 open flows in a shard");
        let flows = &self.flows;
        self.index.insert_unique(flow.hash, at, |&i| flows[i as usize].hash);
        self.flows.push(flow);
        self.flows.last_mut().expect("just pushed")
    }

    /// Removes and returns the open flow of `key`.
    pub fn remove(&mut self, hash: u64, key: &FlowKey) -> Option<Flow> {
        let at = self.position(hash, key)?;
        Some(self.remove_at(at))
    }

    /// Removes every flow `end` picks, handing each to `out` (in no particular order).
    pub fn extract_if(&mut self, mut end: impl FnMut(&Flow) -> bool, mut out: impl FnMut(Flow)) {
        let mut at = 0;
        while at < self.flows.len() {
            if end(&self.flows[at]) {
                // The last flow moves to `at`: look at it next.
                out(self.remove_at(at));
            } else {
                at += 1;
            }
        }
    }

    /// Removes every flow.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Flow> {
        self.index.clear();
        self.flows.drain(..)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Flow> {
        self.flows.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Flow> {
        self.flows.iter_mut()
    }

    /// Where the open flow of `key` is in `flows`.
    #[inline]
    fn position(&self, hash: u64, key: &FlowKey) -> Option<usize> {
        self.index.find(hash, |&i| self.flows[i as usize].key == *key).map(|&i| i as usize)
    }

    /// Removes the flow at `at`, moving the last flow into its place.
    fn remove_at(&mut self, at: usize) -> Flow {
        let last = self.flows.len() - 1;
        let same = |i: usize| move |&j: &u32| j as usize == i;
        match self.index.find_entry(self.flows[at].hash, same(at)) {
            Ok(entry) => drop(entry.remove()),
            Err(_) => unreachable!("every open flow is indexed"),
        }
        if at != last {
            let moved = self.index.find_mut(self.flows[last].hash, same(last)).expect("every open flow is indexed");
            *moved = at as u32;
        }
        self.flows.swap_remove(at)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ahash::RandomState;
    use proptest::prelude::*;

    use super::*;
    use crate::wire::protocol::PROTOCOL_UDP;

    fn flow(n: u16, hasher: &RandomState) -> Flow {
        let key = FlowKey::between(0, 4, PROTOCOL_UDP, ([10; 16], n), ([20; 16], 53)).0;
        let mut flow = Flow::new(key, true, i64::from(n), 0, 0);
        flow.hash = hasher.hash_one(flow.key);
        flow
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
        /// Ends the flows whose port (and first timestamp) is a multiple of this.
        Extract(u16),
        Drain,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..64u16).prop_map(Op::Insert),
            3 => (0..64u16).prop_map(Op::Remove),
            1 => (2..9u16).prop_map(Op::Extract),
            1 => Just(Op::Drain),
        ]
    }

    proptest! {
        /// Against a map of port to flow: the same flows open, found and ended.
        #[test]
        fn open_flows_behave_as_a_map(ops in proptest::collection::vec(op(), 0..300)) {
            let hasher = RandomState::with_seeds(1, 2, 3, 4);
            let (mut open, mut model) = (OpenFlows::default(), BTreeMap::new());
            for op in ops {
                match op {
                    Op::Insert(n) if !model.contains_key(&n) => {
                        let f = flow(n, &hasher);
                        prop_assert_eq!(open.insert(f.clone()).key, f.key);
                        model.insert(n, f);
                    }
                    Op::Insert(_) => {}
                    Op::Remove(n) => {
                        let f = flow(n, &hasher);
                        let got = open.remove(f.hash, &f.key).map(|f| f.key);
                        prop_assert_eq!(got, model.remove(&n).map(|f| f.key));
                    }
                    Op::Extract(m) => {
                        let mut ended = Vec::new();
                        open.extract_if(|f| f.key.lo_port % m == 0, |f| ended.push(f.first_ts_ns));
                        ended.sort();
                        let expected: Vec<i64> = model.keys().filter(|&&n| n % m == 0).map(|&n| i64::from(n)).collect();
                        prop_assert_eq!(ended, expected);
                        model.retain(|&n, _| n % m != 0);
                    }
                    Op::Drain => {
                        let mut drained: Vec<i64> = open.drain().map(|f| f.first_ts_ns).collect();
                        drained.sort();
                        prop_assert_eq!(drained, model.keys().map(|&n| i64::from(n)).collect::<Vec<_>>());
                        model.clear();
                    }
                }
                prop_assert_eq!(open.len(), model.len());
                for (&n, f) in &model {
                    let found = open.find_mut(f.hash, &f.key).map(|f| f.first_ts_ns);
                    prop_assert_eq!(found, Some(i64::from(n)));
                }
                let absent = flow(1000, &hasher);
                prop_assert!(open.find_mut(absent.hash, &absent.key).is_none());
            }
        }
    }
}
