use std::collections::BTreeSet;

use super::*;
use crate::fixtures::{sample_opts as opts, sample_state};

#[test]
fn golden_iptables_restore_input() {
    let got = render(&sample_state(), &opts(), &BTreeSet::new());
    let want = include_str!("testdata/golden.rules");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/iptables/testdata/golden.rules");
        std::fs::write(path, &got.text).unwrap();
        return;
    }
    if got.text != want {
        panic!("rendered rules differ from testdata/golden.rules:\n{}", got.text);
    }
}

#[test]
fn backend_retries_after_failed_restore_still_deleting_stale_chains() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::backend::Backend;
    use crate::exec::{ExecError, FakeExecutor};
    use crate::iptables::IptablesBackend;

    let exec = FakeExecutor::new();
    let fail = Arc::new(AtomicBool::new(false));
    let f = fail.clone();
    exec.respond(move |call| {
        if call.program == "iptables-restore" && f.load(Ordering::SeqCst) {
            return Err(ExecError::Failed {
                program: "iptables-restore".into(),
                args: String::new(),
                code: Some(2),
                stderr: "bad".into(),
            });
        }
        Ok(String::new())
    });
    let mut backend = IptablesBackend::new(Arc::new(exec.clone()), opts());
    backend.sync(&sample_state()).unwrap();
    let web_chain = crate::hash::svc_chain(&sample_state().services[1].port.name);
    assert!(exec.inputs_of("iptables-restore")[0].contains(&format!(":{web_chain} - [0:0]")));

    // Everything removed, but the restore fails: nothing is forgotten...
    fail.store(true, Ordering::SeqCst);
    assert!(backend.sync(&ProxyState::default()).is_err());
    // ...so the retry still deletes the chains that really exist.
    fail.store(false, Ordering::SeqCst);
    backend.sync(&ProxyState::default()).unwrap();
    let inputs = exec.inputs_of("iptables-restore");
    let last = inputs.last().unwrap();
    assert!(last.contains(&format!("-X {web_chain}\n")), "{last}");
}
