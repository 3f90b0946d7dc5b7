//! [`Lru`]: a bounded map that, when full, drops its least-recently-used entry. O(1) per
//! operation: a hash map from key to slot, and the slots chained in recency order by index
//! (no pointers, no `unsafe`). A full cache evicts one cold entry per insert, so a burst of
//! new keys (random service names, one-off tokens) never flushes the entries in use.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

const NIL: usize = usize::MAX;

pub(super) struct Slot<K, V> {
    key: K,
    value: V,
    /// Towards the most recently used end.
    prev: usize,
    /// Towards the least recently used end.
    next: usize,
}

pub(crate) struct Lru<K, V> {
    index: HashMap<K, usize>,
    pub(super) slots: Vec<Slot<K, V>>,
    /// Slots of removed entries, reused before the vector grows.
    free: Vec<usize>,
    /// Most recently used slot.
    head: usize,
    /// Least recently used slot: the next to go.
    tail: usize,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// A map of at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Lru<K, V> {
        Lru {
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            capacity: capacity.max(1),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The value, marked as just used.
    pub(crate) fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = *self.index.get(key)?;
        self.touch(i);
        Some(&self.slots[i].value)
    }

    /// The value, to change in place, marked as just used.
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = *self.index.get(key)?;
        self.touch(i);
        Some(&mut self.slots[i].value)
    }

    /// Inserts or replaces `key`'s value, marked as just used; when full, evicts the least
    /// recently used entry to make room.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        if let Some(&i) = self.index.get(&key) {
            self.slots[i].value = value;
            self.touch(i);
            return;
        }
        let i = if self.index.len() >= self.capacity {
            // Reuse the coldest slot in place.
            let i = self.tail;
            self.unlink(i);
            let old = std::mem::replace(&mut self.slots[i].key, key.clone());
            self.index.remove(&old);
            self.slots[i].value = value;
            i
        } else if let Some(i) = self.free.pop() {
            self.slots[i].key = key.clone();
            self.slots[i].value = value;
            i
        } else {
            self.slots.push(Slot {
                key: key.clone(),
                value,
                prev: NIL,
                next: NIL,
            });
            self.slots.len() - 1
        };
        self.push_front(i);
        self.index.insert(key, i);
    }

    /// Removes `key`. Its slot keeps the value until reused (values here are small: `Rc`s,
    /// flags), which keeps removal O(1) without an `Option` per slot.
    pub(crate) fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(i) = self.index.remove(key) {
            self.unlink(i);
            self.free.push(i);
        }
    }

    fn touch(&mut self, i: usize) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.slots[i].prev, self.slots[i].next);
        match prev {
            NIL => self.head = next,
            p => self.slots[p].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n].prev = prev,
        }
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].prev = NIL;
        self.slots[i].next = self.head;
        match self.head {
            NIL => self.tail = i,
            h => self.slots[h].prev = i,
        }
        self.head = i;
    }
}
