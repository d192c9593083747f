//! The binary search of a bisection over a line of commits, oldest first,
//! whose last is the known-bad one (the known-good one is just before the
//! first). It assumes what `git bisect` assumes: once bad, every later
//! commit is bad. A commit that cannot be judged (its build fails, its runs
//! never agree) is skipped, and the search takes the untested commit nearest
//! the middle instead; when only skipped commits separate the last good
//! from the first bad, the answer is that range.

/// What is known of one commit of the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Untested,
    Good,
    Bad,
    Skipped,
}

/// Where the search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The first bad commit, by index.
    Found(usize),
    /// The first bad commit is one of these (skipped, and the bad one
    /// after them), by index.
    Among(Vec<usize>),
}

/// A search over `len` commits, the last of them known bad.
#[derive(Debug, Clone)]
pub struct Search {
    marks: Vec<Mark>,
}

impl Search {
    /// `len` must be at least 1: the bad commit itself.
    pub fn new(len: usize) -> Search {
        assert!(len >= 1, "a bisection needs the bad commit");
        let mut marks = vec![Mark::Untested; len];
        marks[len - 1] = Mark::Bad;
        Search { marks }
    }

    pub fn len(&self) -> usize {
        self.marks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// The earliest bad commit known, and the latest good one before it
    /// (`None`: the --good commit itself).
    fn bounds(&self) -> (Option<usize>, usize) {
        let hi = self
            .marks
            .iter()
            .position(|m| *m == Mark::Bad)
            .expect("the last commit is bad");
        let lo = self.marks[..hi].iter().rposition(|m| *m == Mark::Good);
        (lo, hi)
    }

    /// The commit to test next: of the untested ones strictly between the
    /// bounds, the nearest the middle (the earlier of two as near); `None` when
    /// there is none left.
    pub fn next(&self) -> Option<usize> {
        let (lo, hi) = self.bounds();
        let start = lo.map_or(0, |l| l + 1);
        // The middle of the open range (lo, hi), as a doubled index so that
        // "lo = -1" needs no signed arithmetic.
        let twice_mid = (start + hi).saturating_sub(1);
        (start..hi)
            .filter(|&i| self.marks[i] == Mark::Untested)
            .min_by_key(|&i| ((2 * i).abs_diff(twice_mid), i))
    }

    pub fn mark(&mut self, index: usize, mark: Mark) {
        self.marks[index] = mark;
    }

    pub fn marks(&self) -> &[Mark] {
        &self.marks
    }

    /// The answer, once [`Search::next`] has nothing left.
    pub fn answer(&self) -> Answer {
        let (lo, hi) = self.bounds();
        let start = lo.map_or(0, |l| l + 1);
        if start == hi {
            Answer::Found(hi)
        } else {
            Answer::Among((start..=hi).collect())
        }
    }

    /// Commits still to test in the worst case without skips: ~log2 of
    /// the untested range.
    pub fn steps_left(&self) -> usize {
        let (lo, hi) = self.bounds();
        let open = hi - lo.map_or(0, |l| l + 1);
        (usize::BITS - open.leading_zeros()) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bisects `len` commits whose first bad one is `first_bad`, skipping
    /// those in `broken`; the tested indices and the answer.
    fn run(len: usize, first_bad: usize, broken: &[usize]) -> (Vec<usize>, Answer) {
        let mut s = Search::new(len);
        let mut tested = Vec::new();
        while let Some(i) = s.next() {
            tested.push(i);
            let mark = if broken.contains(&i) {
                Mark::Skipped
            } else if i >= first_bad {
                Mark::Bad
            } else {
                Mark::Good
            };
            s.mark(i, mark);
            assert!(tested.len() <= len, "the search does not end");
        }
        (tested, s.answer())
    }

    #[test]
    fn every_first_bad_commit_is_found_in_log2_steps() {
        for len in 1..40 {
            for first_bad in 0..len {
                let (tested, answer) = run(len, first_bad, &[]);
                assert_eq!(answer, Answer::Found(first_bad), "{len} {first_bad}");
                let bound = (usize::BITS - len.leading_zeros()) as usize;
                assert!(tested.len() <= bound, "{len} {first_bad}: {tested:?}");
            }
        }
    }

    #[test]
    fn a_skipped_commit_is_stepped_around() {
        // 24 commits, the middle (11) does not build, the leak came in at 16:
        // the order the bisect test of the throw-away repository expects.
        let (tested, answer) = run(24, 16, &[11]);
        assert_eq!(answer, Answer::Found(16));
        assert_eq!(tested, [11, 10, 16, 13, 14, 15]);
    }

    #[test]
    fn only_skipped_commits_before_the_bad_one_give_a_range() {
        let (_, answer) = run(10, 6, &[4, 5]);
        assert_eq!(answer, Answer::Among(vec![4, 5, 6]));
        // The bad commit alone: found without a test.
        let (tested, answer) = run(1, 0, &[]);
        assert!(tested.is_empty());
        assert_eq!(answer, Answer::Found(0));
    }

    #[test]
    fn steps_left_counts_down() {
        let mut s = Search::new(24);
        assert_eq!(s.steps_left(), 5);
        s.mark(12, Mark::Good);
        assert_eq!(s.steps_left(), 4);
    }
}
