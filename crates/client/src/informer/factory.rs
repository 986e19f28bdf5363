//! The per-process informer factory: one informer per resource type, started together.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use rudder_component::Shutdown;
use tokio::runtime::Handle;

use super::{Informer, MappedInformer, run};
use crate::Object;

/// Hands out shared informers; create one per process and pass clones around.
#[derive(Clone)]
pub struct InformerFactory {
    inner: Arc<Inner>,
}

struct Inner {
    client: kube::Client,
    /// `Some(n)`: informers list in pages of `n` (see [`InformerFactory::with_list_pages`]).
    list_pages: Option<u32>,
    state: Mutex<State>,
}

type Starter = Box<dyn FnOnce(&Handle, Shutdown) + Send>;

#[derive(Default)]
struct State {
    /// `Informer<K>` by `TypeId::of::<K>()`.
    informers: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    names: Vec<String>,
    /// Set by `start`: informers requested later start at once.
    started: Option<(Handle, Shutdown)>,
    /// Informers requested before `start`.
    pending: Vec<Starter>,
}

impl fmt::Debug for InformerFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        f.debug_struct("InformerFactory")
            .field("informers", &state.names)
            .field("started", &state.started.is_some())
            .finish()
    }
}

impl InformerFactory {
    /// A factory whose informers list and watch through `client`.
    pub fn new(client: kube::Client) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                list_pages: None,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// A factory whose informers list in pages of `page_size` objects (a paginated read without
    /// `resourceVersion`, as client-go's pager does) instead of one `resourceVersion=0` list
    /// from the apiserver's watch cache, which comes back whole whatever the limit. A process
    /// caching a big collection then never holds the whole list response at once: only one
    /// page is decoded at a time and each object is transformed as it arrives, which keeps
    /// its peak memory near the size of the trimmed cache.
    pub fn with_list_pages(client: kube::Client, page_size: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                list_pages: Some(page_size.max(1)),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The shared cluster-wide informer for `K`: created on the first call, the same one after
    /// (one list+watch per resource per process, whoever asks). Started at once if the factory
    /// already is.
    pub fn informer<K: Object>(&self) -> Informer<K> {
        self.informer_inner::<K>(None)
    }

    /// [`informer`](Self::informer) whose objects go through `transform` before the store and
    /// subscribers see them (client-go `SetTransform`), e.g.
    /// [`strip_managed_fields`](super::strip_managed_fields). The transform is set before the
    /// informer can start. If the informer already exists and has started, the error says so
    /// and the informer keeps its transform.
    pub fn informer_with<K: Object>(
        &self,
        transform: impl Fn(&mut K) + Send + Sync + 'static,
    ) -> Result<Informer<K>, crate::ClientError> {
        let mut transform = Some(super::Transform::new(transform));
        let informer = self.informer_inner::<K>(Some(&mut transform));
        match transform {
            // A new informer took it before it could start.
            None => Ok(informer),
            Some(transform) => {
                informer.set_transform_inner(transform)?;
                Ok(informer)
            }
        }
    }

    /// Takes `transform` (leaving `None`) only when it creates the informer.
    fn informer_inner<K: Object>(&self, transform: Option<&mut Option<super::Transform<K>>>) -> Informer<K> {
        let mut state = self.inner.state.lock();
        if let Some(existing) = state
            .informers
            .get(&TypeId::of::<K>())
            .and_then(|any| any.downcast_ref::<Informer<K>>())
        {
            return existing.clone();
        }
        let informer = Informer::<K>::new();
        if let Some(transform) = transform.and_then(Option::take) {
            *informer.shared().transform.lock() = Some(transform);
        }
        state
            .informers
            .insert(TypeId::of::<K>(), Box::new(informer.clone()));
        state.names.push(super::metrics::resource_label::<K>());
        let starter: Starter = {
            let (informer, client) = (informer.clone(), self.inner.client.clone());
            let pages = self.inner.list_pages;
            Box::new(move |handle: &Handle, shutdown: Shutdown| {
                handle.spawn(run::run(informer, client, pages, shutdown));
            })
        };
        match &state.started {
            Some((handle, shutdown)) => starter(handle, shutdown.clone()),
            None => state.pending.push(starter),
        }
        informer
    }

    /// The shared informer of `V = map(K)` for every `K` (see [`MappedInformer`]): the
    /// store and subscribers keep only the mapped values, never the objects. Created on the
    /// first call for this `K` and `V`; later calls return that one and ignore their `map`.
    /// Independent of [`informer::<K>`](Self::informer) (each has its own watch). Started at
    /// once if the factory already is.
    pub fn mapped_informer<K: Object, V: Send + Sync + 'static>(
        &self,
        map: impl Fn(K) -> V + Send + Sync + 'static,
    ) -> MappedInformer<K, V> {
        let mut state = self.inner.state.lock();
        let id = TypeId::of::<MappedInformer<K, V>>();
        if let Some(existing) = state
            .informers
            .get(&id)
            .and_then(|any| any.downcast_ref::<MappedInformer<K, V>>())
        {
            return existing.clone();
        }
        let informer = MappedInformer::<K, V>::new(map);
        state.informers.insert(id, Box::new(informer.clone()));
        state
            .names
            .push(format!("{} (mapped)", super::metrics::resource_label::<K>()));
        let starter: Starter = {
            let (informer, client) = (informer.clone(), self.inner.client.clone());
            let pages = self.inner.list_pages;
            Box::new(move |handle: &Handle, shutdown: Shutdown| {
                handle.spawn(super::mapped::run(informer, client, pages, shutdown));
            })
        };
        match &state.started {
            Some((handle, shutdown)) => starter(handle, shutdown.clone()),
            None => state.pending.push(starter),
        }
        informer
    }

    /// Start every informer requested so far, and any requested later at once; each runs until
    /// `shutdown`. Must be called inside a tokio runtime (the informers run on it). A second
    /// call does nothing.
    pub fn start(&self, shutdown: Shutdown) {
        let handle = match Handle::try_current() {
            Ok(handle) => handle,
            Err(error) => {
                tracing::error!(%error, "InformerFactory::start outside a tokio runtime; informers not started");
                return;
            }
        };
        let mut state = self.inner.state.lock();
        if state.started.is_some() {
            tracing::debug!("informer factory already started");
            return;
        }
        for starter in std::mem::take(&mut state.pending) {
            starter(&handle, shutdown.clone());
        }
        state.started = Some((handle, shutdown));
    }

    /// The client the informers use.
    pub fn client(&self) -> &kube::Client {
        &self.inner.client
    }
}
