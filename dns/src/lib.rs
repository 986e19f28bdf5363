//! rudder-dns: the cluster DNS add-on, serving cluster.local from Services and EndpointSlices.
