//! Incident rows as the domain sees them: the instants the clocks run from. (The kind, class,
//! state and severity are typed in the row itself; a value the domain does not know is a
//! corrupt row.) Shared by the incident handlers and the publisher record.

use weir_core::incident::Times;
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
