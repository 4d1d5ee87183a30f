//! Incident rows as the domain sees them: the instants the clocks run from, the class and the
//! state. Shared by the incident handlers and the publisher record.

use weir_core::incident::{Class, State as IState, Times};
use weir_store::incidents::Incident;

pub fn times(i: &Incident) -> Times {
    Times {
        aware_at: i.aware_at,
        triaged_at: i.triaged_at,
        resolved_at: i.resolved_at,
        last_update_at: i.last_update_at,
        final_report_at: i.final_report_at,
        disclosed_at: i.disclosed_at,
        in_the_wild: i.in_the_wild,
        embargo_until: i.embargo_until,
    }
}

pub fn class_of(i: &Incident) -> Class {
    Class::parse(&i.class).unwrap_or(Class::OtherSerious)
}

pub fn state_of(i: &Incident) -> IState {
    IState::parse(&i.state).unwrap_or(IState::Received)
}
