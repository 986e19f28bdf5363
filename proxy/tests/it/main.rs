//! kube-proxy against the real kernel (root; everything inside network namespaces these tests
//! create and delete) and against the in-process apiserver.

mod affinity;
mod apiserver;
mod kernel;
mod lab;
