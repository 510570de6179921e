//! A list that keeps its first few items inline: no heap allocation in the common case (the
//! rule lists one evaluation merges).

/// Up to `N` items inline; more move to the heap.
#[derive(Debug, Clone)]
pub(crate) struct SmallList<T: Copy, const N: usize> {
    inline: [T; N],
    len: usize,
    spill: Vec<T>,
}

impl<T: Copy, const N: usize> SmallList<T, N> {
    /// An empty list; `fill` only initializes the unused inline slots.
    pub(crate) fn new(fill: T) -> Self {
        SmallList {
            inline: [fill; N],
            len: 0,
            spill: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        if self.spill.is_empty() {
            if let Some(slot) = self.inline.get_mut(self.len) {
                *slot = item;
                self.len += 1;
                return;
            }
            self.spill.reserve(2 * N);
            self.spill.extend_from_slice(&self.inline);
        }
        self.spill.push(item);
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        if self.spill.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.spill
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        if self.spill.is_empty() {
            self.inline.get_mut(..self.len).unwrap_or_default()
        } else {
            &mut self.spill
        }
    }
}

impl<T: Copy, const N: usize> Extend<T> for SmallList<T, N> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SmallList;

    #[test]
    fn keeps_order_inline_and_after_spilling() {
        let mut l: SmallList<u32, 2> = SmallList::new(0);
        assert!(l.as_slice().is_empty());
        l.push(1);
        l.push(2);
        assert_eq!(l.as_slice(), &[1, 2]);
        l.extend([3, 4]);
        assert_eq!(l.as_slice(), &[1, 2, 3, 4]);
        if let Some(x) = l.as_mut_slice().first_mut() {
            *x = 9;
        }
        assert_eq!(l.as_slice(), &[9, 2, 3, 4]);
    }
}
