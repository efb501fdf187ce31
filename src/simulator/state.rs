//! Group membership of one simulated account.
//!
//! Every well-formed group id is a group the account is a plain member of until something
//! changes that: only the exceptions are stored (the configured `not_found`, `owned`, `admin`,
//! `already_left` lists and the groups left since), so a run over millions of generated ids
//! costs one map entry per group actually left.
//!
//! Leaving is the same state change for every provider; what differs is the owner's rule
//! ([`OwnerRule`]) and how each provider words the [`Leave`] result.

use std::collections::HashMap;

use super::config::{List, SimAccount};
use crate::job::GroupRef;

/// Where the account stands with one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupState {
    /// A plain member (the default for every well-formed id).
    Member,
    /// An administrator.
    Admin,
    /// The owner.
    Owner,
    /// Not a member any more (configured, or left during the run).
    Left,
    /// No such group (configured, or dissolved by its owner leaving).
    Gone,
}

/// What happens when an owner leaves, by provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerRule {
    /// Refused; the owner stays (Wasend, RyzeAPI).
    Refuse,
    /// The owner leaves like an admin (Green API answers `removeAdmin`).
    LeaveAsAdmin,
    /// The group is dissolved (Kirimin).
    Dissolve,
}

/// The result of a leave request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leave {
    /// Left as a member.
    Left,
    /// Left, and the account had been an admin (or the owner, under `LeaveAsAdmin`).
    LeftAsAdmin,
    /// Left a group it owned, which dissolved it.
    Dissolved,
    /// Refused: the account owns the group.
    OwnerRefused,
    /// The account is not a member.
    NotMember,
    /// The group does not exist.
    NotFound,
}

/// What the account can see of a group (the group-info endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// A member or admin.
    Member,
    /// The owner.
    Owner,
    /// Not a member; the group exists.
    NotMember,
    /// The group does not exist.
    NotFound,
}

/// The account's memberships.
#[derive(Debug, Clone, Default)]
pub(crate) struct Membership {
    /// The groups not in the default state ([`GroupState::Member`]), by normalised id.
    exceptions: HashMap<String, GroupState>,
}

impl Membership {
    /// The memberships `account` starts with.
    pub fn new(account: &SimAccount) -> Self {
        let exceptions = account
            .listed_groups()
            .map(|(list, group)| {
                let state = match list {
                    List::NotFound => GroupState::Gone,
                    List::Owned => GroupState::Owner,
                    List::Admin => GroupState::Admin,
                    List::AlreadyLeft => GroupState::Left,
                };
                (group.as_str().to_owned(), state)
            })
            .collect();
        Membership { exceptions }
    }

    fn state(&self, group: &GroupRef) -> GroupState {
        self.exceptions
            .get(group.as_str())
            .copied()
            .unwrap_or(GroupState::Member)
    }

    fn set(&mut self, group: &GroupRef, state: GroupState) {
        self.exceptions.insert(group.as_str().to_owned(), state);
    }

    /// The account asks to leave `group`; the owner's fate follows `rule`.
    pub fn leave(&mut self, group: &GroupRef, rule: OwnerRule) -> Leave {
        match (self.state(group), rule) {
            (GroupState::Member, _) => {
                self.set(group, GroupState::Left);
                Leave::Left
            }
            (GroupState::Admin, _) | (GroupState::Owner, OwnerRule::LeaveAsAdmin) => {
                self.set(group, GroupState::Left);
                Leave::LeftAsAdmin
            }
            (GroupState::Owner, OwnerRule::Refuse) => Leave::OwnerRefused,
            (GroupState::Owner, OwnerRule::Dissolve) => {
                self.set(group, GroupState::Gone);
                Leave::Dissolved
            }
            (GroupState::Left, _) => Leave::NotMember,
            (GroupState::Gone, _) => Leave::NotFound,
        }
    }

    /// What the account sees of `group`.
    pub fn view(&self, group: &GroupRef) -> View {
        match self.state(group) {
            GroupState::Member | GroupState::Admin => View::Member,
            GroupState::Owner => View::Owner,
            GroupState::Left => View::NotMember,
            GroupState::Gone => View::NotFound,
        }
    }

    /// How many groups are stored (not in the default state).
    #[cfg(test)]
    fn stored(&self) -> usize {
        self.exceptions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Provider;
    use crate::quota::Quota;

    fn kirimin(id: &str) -> GroupRef {
        GroupRef::parse(Provider::Kirimin, id).unwrap()
    }

    fn account() -> SimAccount {
        SimAccount::kirimin("1", "sid=x", Quota::per_second(1))
            .owned("10")
            .admin("11")
            .not_found("12")
            .already_left("13")
    }

    #[test]
    fn leaving_twice_is_not_a_member() {
        let mut m = Membership::new(&account());
        let g = kirimin("99");
        assert_eq!(m.view(&g), View::Member);
        assert_eq!(m.leave(&g, OwnerRule::Refuse), Leave::Left);
        assert_eq!(m.leave(&g, OwnerRule::Refuse), Leave::NotMember);
        assert_eq!(m.view(&g), View::NotMember);
        assert_eq!(
            m.leave(&kirimin("11"), OwnerRule::Refuse),
            Leave::LeftAsAdmin
        );
        assert_eq!(m.leave(&kirimin("11"), OwnerRule::Refuse), Leave::NotMember);
        assert_eq!(m.leave(&kirimin("12"), OwnerRule::Refuse), Leave::NotFound);
        assert_eq!(m.leave(&kirimin("13"), OwnerRule::Refuse), Leave::NotMember);
    }

    #[test]
    fn owners_follow_the_providers_rule() {
        let g = kirimin("10");
        let mut m = Membership::new(&account());
        assert_eq!(m.leave(&g, OwnerRule::Refuse), Leave::OwnerRefused);
        assert_eq!(m.view(&g), View::Owner);
        assert_eq!(m.leave(&g, OwnerRule::Dissolve), Leave::Dissolved);
        assert_eq!(m.view(&g), View::NotFound);
        assert_eq!(m.leave(&g, OwnerRule::Dissolve), Leave::NotFound);
        let mut m = Membership::new(&account());
        assert_eq!(m.leave(&g, OwnerRule::LeaveAsAdmin), Leave::LeftAsAdmin);
        assert_eq!(m.view(&g), View::NotMember);
    }

    #[test]
    fn stores_only_what_changed() {
        let mut m = Membership::new(&account());
        assert_eq!(m.stored(), 4);
        for i in 0..100_000u32 {
            let g = kirimin(&(1_000_000 + i).to_string());
            assert_eq!(m.view(&g), View::Member);
        }
        assert_eq!(m.stored(), 4, "looking does not store");
        for i in 0..100_000u32 {
            m.leave(&kirimin(&(1_000_000 + i).to_string()), OwnerRule::Refuse);
        }
        assert_eq!(m.stored(), 100_004);
    }
}
