//! rudder-client: what every component other than the apiserver shares: informers, leader election, event recorder, work queue.
