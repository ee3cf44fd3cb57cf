//! Sorted lists standing in for maps that are built once and then only looked up: no
//! half-empty tree nodes (keys that arrive in order leave a B-tree's nodes about half full),
//! and an item is found by halves (`slice::binary_search_by`).

use std::cmp::Ordering;

/// Sorts `items` by `order` and keeps, of items that compare equal, only the last: what
/// inserting them in turn into a map would keep. A list already in strict order is left as
/// it is, without the buffer a stable sort takes.
pub fn sort_keeping_last<T>(items: &mut Vec<T>, order: impl Fn(&T, &T) -> Ordering) {
    if items.is_sorted_by(|a, b| order(a, b).is_lt()) {
        return;
    }
    items.sort_by(&order);
    // Reversed, the last of equal items comes first, and `dedup_by` keeps the first.
    items.reverse();
    items.dedup_by(|later, kept| order(later, kept).is_eq());
    items.reverse();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_of_equal_items_is_kept_in_sorted_order() {
        let by_key = |a: &(u8, &str), b: &(u8, &str)| a.0.cmp(&b.0);
        let mut items = vec![
            (3, "c"),
            (1, "first 1"),
            (2, "b"),
            (1, "last 1"),
            (3, "last 3"),
        ];
        sort_keeping_last(&mut items, by_key);
        assert_eq!(items, [(1, "last 1"), (2, "b"), (3, "last 3")]);
        let mut in_order = vec![(1, "a"), (2, "b")];
        sort_keeping_last(&mut in_order, by_key);
        assert_eq!(in_order, [(1, "a"), (2, "b")]);
        let mut empty: Vec<(u8, &str)> = Vec::new();
        sort_keeping_last(&mut empty, by_key);
        assert!(empty.is_empty());
    }
}
