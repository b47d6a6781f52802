//! The Kubernetes manifests in deploy/k8s against the real binary: every
//! probe path they name answers 200 on a fresh goto, every workload runs
//! under the "restricted" security context, ports are named and labels are
//! `app.kubernetes.io/*`. (Their schema is checked offline by
//! kubernetes-validate in .ci/run.)

mod common;

use std::path::Path;

use common::Goto;

fn manifests() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("deploy/k8s")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read manifest");
            (p.display().to_string(), text)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 3, "registry, peers and the load Job");
    out
}

/// The YAML documents of a file (split on `---` lines).
fn documents(text: &str) -> Vec<&str> {
    text.split("\n---\n").collect()
}

#[test]
fn probe_paths_answer_on_a_real_goto() {
    let g = Goto::start(&["--request-logs=false"]);
    let mut probes = 0;
    for (name, text) in manifests() {
        for line in text.lines() {
            let Some(rest) = line.split("httpGet: {path: ").nth(1) else {
                continue;
            };
            let path = rest.split(',').next().unwrap_or_default().trim();
            assert!(path.starts_with('/'), "{name}: {line}");
            assert_eq!(g.get(path).status, 200, "{name}: probe {path}");
            // Admin paths: a forced status does not fail the probes.
            probes += 1;
        }
    }
    assert!(probes >= 4, "readiness and liveness in each Deployment");
    g.put("/response/status/set/503");
    assert_eq!(g.get("/probes/readiness").status, 200);
    assert_eq!(g.get("/probes/liveness").status, 200);
}

#[test]
fn workloads_are_restricted_labelled_and_named() {
    let mut workloads = 0;
    for (name, text) in manifests() {
        for doc in documents(&text) {
            let has = |s: &str| doc.contains(s);
            if has("kind: Deployment") || has("kind: Job") {
                workloads += 1;
                for needed in [
                    "runAsNonRoot: true",
                    "allowPrivilegeEscalation: false",
                    "capabilities: {drop: [\"ALL\"]}",
                    "seccompProfile: {type: RuntimeDefault}",
                    "image: goto:latest",
                ] {
                    assert!(has(needed), "{name}: missing {needed}");
                }
                if has("kind: Deployment") {
                    assert!(has("readinessProbe:") && has("livenessProbe:"), "{name}");
                    assert!(
                        has("- name: http\n              containerPort: 8080"),
                        "{name}"
                    );
                }
            }
            if has("kind: Service") {
                assert!(
                    has("- name: http\n      port: 8080"),
                    "{name}: unnamed port"
                );
            }
            if has("kind:") {
                assert!(has("app.kubernetes.io/name: goto"), "{name}");
                assert!(has("app.kubernetes.io/part-of: goto"), "{name}");
                assert!(
                    !has("\n    app: ") && !has("{app: "),
                    "{name}: bare app label"
                );
            }
        }
    }
    assert_eq!(workloads, 3, "registry, peers, load Job");
}

/// The load Job's command line, pointed at a local goto for 1 s instead of
/// the peers for 30 s, prints one JSON document (what lands in the log).
#[test]
fn load_job_prints_its_result_as_json() {
    let (_, text) = manifests()
        .into_iter()
        .find(|(n, _)| n.ends_with("load-job.yaml"))
        .expect("load-job.yaml");
    let mut args: Vec<String> = text
        .split("args:\n")
        .nth(1)
        .expect("args")
        .lines()
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim_start()[2..].trim_matches('"').to_string())
        .collect();
    assert_eq!(args[0], "load");
    assert!(args.contains(&"--json".to_string()));
    let g = Goto::start(&["--request-logs=false"]);
    for a in args.iter_mut() {
        if a == "30s" {
            *a = "1s".into();
        } else if a.starts_with("http://goto-peer1:8080/") {
            *a = a.replace("goto-peer1:8080", &format!("127.0.0.1:{}", g.port));
        }
    }
    let out = std::process::Command::new(common::goto_bin())
        .args(&args)
        .output()
        .expect("run goto load");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert!(v["cores"].as_u64().is_some_and(|c| c >= 1), "{v}");
}
