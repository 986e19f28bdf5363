//! rudder-client against real components: an in-process apiserver (rudder-testkit) and real
//! HTTPS. One test binary, so CI links the apiserver once.

mod connect;
mod events;
mod informer;
mod leader;
mod mapped;
mod serving;
