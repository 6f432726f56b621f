//! [`Resources`]: the named capacities a batcher works within, and [`Costs`], an
//! operation's or a batch's cost in each of them.
//!
//! Resource 0 is the *primary* one: the limiter given to
//! [`rate_limiter`](crate::BatcherBuilder::rate_limiter) (or none) and the cost given to
//! [`Operation::new`]. The others are added with
//! [`resource`](crate::BatcherBuilder::resource) and costed with
//! [`Operation::with_cost`]. Names are resolved to indices here, once per enqueue and
//! once per release, so that the rest of the batcher works on fixed arrays.

use std::fmt;
use std::sync::Arc;

use events_core::RateLimiter;

use crate::{BatcherError, EnqueueErrorKind, Operation};

/// The most resources a batcher may have, the primary one included.
pub const MAX_RESOURCES: usize = 8;

/// The name of the primary resource unless
/// [`primary_resource`](crate::BatcherBuilder::primary_resource) names it.
pub const PRIMARY_RESOURCE: &str = "primary";

/// A cost per resource, indexed as in [`Resources`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Costs([u64; MAX_RESOURCES]);

impl Costs {
    /// A cost in the primary resource only.
    #[inline]
    pub(crate) fn primary(cost: u64) -> Self {
        let mut c = Costs::default();
        c.0[0] = cost;
        c
    }

    #[inline]
    pub(crate) fn set(&mut self, r: usize, cost: u64) {
        self.0[r] = cost;
    }

    #[inline]
    pub(crate) fn get(&self, r: usize) -> u64 {
        self.0[r]
    }

    #[inline]
    pub(crate) fn add(&mut self, other: &Costs) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = a.saturating_add(b);
        }
    }

    /// Adds `cost` in the primary resource only.
    #[inline]
    pub(crate) fn add_primary(&mut self, cost: u64) {
        self.0[0] = self.0[0].saturating_add(cost);
    }

    #[inline]
    pub(crate) fn sub(&mut self, other: &Costs) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = a.saturating_sub(b);
        }
    }

    /// The cost in each resource, the primary one first (every index up to
    /// [`MAX_RESOURCES`]).
    #[inline]
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().copied()
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0.iter().all(|c| *c == 0)
    }
}

struct Resource {
    name: &'static str,
    limiter: Option<Arc<dyn RateLimiter>>,
}

/// The batcher's resources: index 0 is the primary one.
pub(crate) struct Resources {
    list: Vec<Resource>,
}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|r| (r.name, &r.limiter)))
            .finish()
    }
}

impl Resources {
    /// Checks the names: none empty, none twice, at most [`MAX_RESOURCES`] in all.
    pub(crate) fn new(
        primary: &'static str,
        limiter: Option<Arc<dyn RateLimiter>>,
        more: Vec<(&'static str, Arc<dyn RateLimiter>)>,
    ) -> Result<Self, BatcherError> {
        if primary.is_empty() {
            return Err(BatcherError::EmptyResourceName);
        }
        let mut list = vec![Resource {
            name: primary,
            limiter,
        }];
        for (name, limiter) in more {
            if name.is_empty() {
                return Err(BatcherError::EmptyResourceName);
            }
            if list.iter().any(|r| r.name == name) {
                return Err(BatcherError::DuplicateResource { name });
            }
            list.push(Resource {
                name,
                limiter: Some(limiter),
            });
        }
        if list.len() > MAX_RESOURCES {
            return Err(BatcherError::TooManyResources {
                count: list.len(),
                max: MAX_RESOURCES,
            });
        }
        Ok(Resources { list })
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn name(&self, r: usize) -> &'static str {
        self.list[r].name
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.list.iter().map(|r| r.name)
    }

    pub(crate) fn limiter(&self, r: usize) -> Option<&Arc<dyn RateLimiter>> {
        self.list[r].limiter.as_ref()
    }

    /// Whether any resource has a limiter, so that releases count in a window.
    pub(crate) fn any_limited(&self) -> bool {
        self.list.iter().any(|r| r.limiter.is_some())
    }

    /// The index of an additional resource (the primary one is costed by
    /// [`Operation::new`], not by name).
    fn index(&self, name: &str) -> Option<usize> {
        self.list[1..]
            .iter()
            .position(|r| std::ptr::eq(r.name, name) || r.name == name)
            .map(|i| i + 1)
    }

    /// The operation's cost in each resource; `Err` names a resource the batcher does
    /// not have.
    #[inline]
    pub(crate) fn costs<T>(&self, op: &Operation<T>) -> Result<Costs, &'static str> {
        self.costs_of(op.cost(), op.extra_costs())
    }

    /// The costs of an operation of primary cost `primary` and extra costs `extra`.
    #[inline]
    pub(crate) fn costs_of(
        &self,
        primary: u32,
        extra: impl Iterator<Item = (&'static str, u32)>,
    ) -> Result<Costs, &'static str> {
        let mut costs = Costs::default();
        self.write_costs(primary, extra, &mut costs)?;
        Ok(costs)
    }

    /// Writes the costs of an operation of primary cost `primary` and extra costs `extra`
    /// into `costs` (zero in every resource they do not name).
    #[inline]
    fn write_costs(
        &self,
        primary: u32,
        extra: impl Iterator<Item = (&'static str, u32)>,
        costs: &mut Costs,
    ) -> Result<(), &'static str> {
        costs.set(0, u64::from(primary));
        for (name, cost) in extra {
            match self.index(name) {
                Some(r) => costs.set(r, u64::from(cost)),
                None => return Err(name),
            }
        }
        Ok(())
    }

    /// The operation's costs, written to `costs` (zero, made by the caller, so that the
    /// array is filled in place rather than built and moved on every enqueue), if every
    /// resource it names exists and no limiter's maximum capacity is below its cost there.
    #[inline]
    pub(crate) fn check<T>(
        &self,
        op: &Operation<T>,
        costs: &mut Costs,
    ) -> Result<(), EnqueueErrorKind> {
        self.write_costs(op.cost(), op.extra_costs(), costs)
            .map_err(|resource| EnqueueErrorKind::UnknownResource { resource })?;
        for (r, res) in self.list.iter().enumerate() {
            let Some(limiter) = &res.limiter else {
                continue;
            };
            let cost = costs.get(r);
            if cost == 0 {
                continue;
            }
            let max_capacity = limiter.max_capacity();
            if cost > u64::from(max_capacity) {
                return Err(EnqueueErrorKind::TooExpensive {
                    resource: res.name,
                    cost: u32::try_from(cost).unwrap_or(u32::MAX),
                    max_capacity,
                });
            }
        }
        Ok(())
    }
}
