//! Fair sharing: each instance announces how many partitions it wants, and caps itself
//! at its max-min fair share of the partitions whenever other instances want some too.

use std::time::Duration;

use crate::Member;

/// A stable pseudo-random rank of an instance for one epoch, so that the instances agree
/// on who gets the remainder partitions and the favoured ones change over time.
fn rank(id: &str, epoch: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes().chain(epoch.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// This instance's max-min fair share of `partitions`, or `None` when no other live
/// instance wants any (then there is nothing to share).
///
/// Instances wanting less than an equal split get what they want; the rest is split
/// evenly among the others, and the remainder goes to those ranked first this `epoch`.
pub(crate) fn fair_share(
    me: &str,
    my_wanted: u32,
    members: &[Member],
    partitions: u32,
    alive: Duration,
    epoch: u64,
) -> Option<u32> {
    let mut list: Vec<(&str, u32)> = members
        .iter()
        .filter(|m| m.id != me && m.wanted > 0 && m.age <= alive)
        .map(|m| (m.id.as_str(), m.wanted))
        .collect();
    if list.is_empty() {
        return None;
    }
    list.push((me, my_wanted));
    list.sort_by_key(|&(id, wanted)| (wanted, rank(id, epoch)));
    let mut remaining = partitions;
    let mut count = list.len() as u32;
    let mut index = 0;
    while let Some(&(id, wanted)) = list.get(index) {
        if wanted > remaining / count {
            break;
        }
        if id == me {
            return Some(wanted);
        }
        remaining -= wanted;
        count -= 1;
        index += 1;
    }
    let mut rest: Vec<&str> = list[index..].iter().map(|m| m.0).collect();
    rest.sort_by_key(|id| rank(id, epoch));
    let position = rest.iter().position(|id| *id == me)? as u32;
    Some(remaining / count + u32::from(position < remaining % count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, wanted: u32) -> Member {
        Member {
            id: id.to_owned(),
            wanted,
            age: Duration::ZERO,
        }
    }

    #[test]
    fn alone_there_is_no_cap() {
        assert_eq!(
            fair_share("a", 20, &[member("a", 20)], 20, Duration::from_secs(30), 0),
            None
        );
    }

    #[test]
    fn equal_demands_split_evenly_and_the_remainder_rotates() {
        let all = [
            member("a", 99),
            member("b", 99),
            member("c", 99),
            member("d", 99),
        ];
        let shares: Vec<u32> = ["a", "b", "c", "d"]
            .iter()
            .map(|me| fair_share(me, 99, &all, 20, Duration::from_secs(30), 7).unwrap())
            .collect();
        assert_eq!(shares, vec![5, 5, 5, 5]);
        let mut favoured = std::collections::HashSet::new();
        for epoch in 0..20 {
            let shares: Vec<u32> = ["a", "b", "c", "d"]
                .iter()
                .map(|me| fair_share(me, 99, &all, 10, Duration::from_secs(30), epoch).unwrap())
                .collect();
            assert_eq!(shares.iter().sum::<u32>(), 10, "{shares:?}");
            for (i, s) in shares.iter().enumerate() {
                if *s == 3 {
                    favoured.insert(i);
                }
            }
        }
        assert_eq!(
            favoured.len(),
            4,
            "the remainder never reached some instances"
        );
    }

    #[test]
    fn small_demands_are_met_and_the_rest_is_shared() {
        let all = [member("a", 2), member("b", 99), member("c", 99)];
        let alive = Duration::from_secs(30);
        assert_eq!(fair_share("a", 2, &all, 20, alive, 0), Some(2));
        assert_eq!(fair_share("b", 99, &all, 20, alive, 0), Some(9));
        assert_eq!(fair_share("c", 99, &all, 20, alive, 0), Some(9));
    }

    #[test]
    fn stale_and_idle_members_do_not_count() {
        let mut stale = member("b", 99);
        stale.age = Duration::from_secs(60);
        let all = [stale, member("c", 0)];
        assert_eq!(
            fair_share("a", 20, &all, 20, Duration::from_secs(30), 0),
            None
        );
    }
}
