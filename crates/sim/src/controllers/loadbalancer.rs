//! The simulated cloud load balancer (the service controller of a cloud controller manager):
//! a Service of type LoadBalancer gets an address in 127.0.0.0/8, published in
//! `status.loadBalancer.ingress[0].ip`, with a real TCP listener on each of its ports there, so a
//! check connects to `<ingress ip>:<service port>` exactly as on a real cluster. Behaviour per
//! scenario mode is in [`super::lb_route`]; see `docs/sim-network.md`.
//!
//! The finalizer `service.kubernetes.io/load-balancer-cleanup` is added to every Service it
//! manages and removed once the listeners of a deleted Service are closed.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Value, json};

use super::lb_listener::Listener;
use super::lb_route::Route;
use super::object::{self, annotation, at, is_terminating, name, namespace, stable_hash, str_at};
use crate::scenario::{LoadBalancerMode, NetworkSpec};
use crate::world::{Action, Controller, World};

/// Finalizer the cloud controller manager puts on LoadBalancer Services.
pub const CLEANUP_FINALIZER: &str = "service.kubernetes.io/load-balancer-cleanup";
/// OpenStack's annotation asking for PROXY protocol towards the backends.
pub const PROXY_PROTOCOL_ANNOTATION: &str = "loadbalancer.openstack.org/proxy-protocol";
/// Addresses tried before giving up (another simulator may hold a port on an address).
const ATTEMPTS: u32 = 32;

type Key = (String, String);

struct Balancer {
    uid: String,
    ports: Vec<u16>,
    ip: IpAddr,
    route: Arc<RwLock<Route>>,
    _listeners: Vec<Listener>,
}

#[derive(Default)]
struct State {
    balancers: HashMap<Key, Balancer>,
    /// Services whose balancer could not be built, with the uid and ports that failed, so the
    /// failure is reported once per change rather than on every round.
    failed: HashMap<Key, (String, Vec<u16>)>,
}

/// Gives LoadBalancer Services an address and listeners; closes them on deletion.
pub struct LoadBalancerController {
    network: NetworkSpec,
    state: Mutex<State>,
}

impl LoadBalancerController {
    /// A controller behaving as the scenario's `network` section says.
    pub fn new(network: NetworkSpec) -> LoadBalancerController {
        LoadBalancerController {
            network,
            state: Mutex::new(State::default()),
        }
    }
}

fn finalizers(svc: &Value) -> Vec<String> {
    at(svc, "metadata.finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect()
}

fn with_finalizer(svc: &Value, present: bool) -> Value {
    let mut out = svc.clone();
    let mut list: Vec<String> = finalizers(svc)
        .into_iter()
        .filter(|f| f != CLEANUP_FINALIZER)
        .collect();
    if present {
        list.push(CLEANUP_FINALIZER.to_string());
    }
    if list.is_empty() {
        if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("finalizers");
        }
    } else {
        out["metadata"]["finalizers"] = json!(list);
    }
    out
}

fn tcp_ports(svc: &Value) -> Vec<u16> {
    let mut ports: Vec<u16> = at(svc, "spec.ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("protocol").and_then(Value::as_str).unwrap_or("TCP") == "TCP")
        .filter_map(|p| u16::try_from(p.get("port")?.as_u64()?).ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Binds every port on one loopback address, trying other addresses while a port is taken.
fn bind(key: &Key, uid: &str, ports: &[u16]) -> Result<(IpAddr, Vec<TcpListener>), String> {
    for attempt in 0..ATTEMPTS {
        let h = stable_hash(&format!(
            "{}/{}/{}/{uid}/{attempt}",
            std::process::id(),
            key.0,
            key.1
        ));
        let ip = IpAddr::V4(Ipv4Addr::new(
            127,
            1 + (h % 254) as u8,
            (h >> 8) as u8,
            1 + ((h >> 16) % 254) as u8,
        ));
        let mut bound = Vec::new();
        let mut taken = false;
        for &port in ports {
            match TcpListener::bind((ip, port)) {
                Ok(socket) => bound.push(socket),
                Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
                    taken = true;
                    break;
                }
                Err(err) => {
                    let hint = if port < 1024 {
                        "; the simulator runs unprivileged: use a Service port of 1024 or above"
                    } else {
                        ""
                    };
                    return Err(format!("cannot listen on {ip}:{port}: {err}{hint}"));
                }
            }
        }
        if !taken {
            return Ok((ip, bound));
        }
    }
    Err(format!(
        "no loopback address with ports {ports:?} free after {ATTEMPTS} attempts"
    ))
}

impl LoadBalancerController {
    fn proxy_header(&self, svc: &Value) -> bool {
        self.network.proxy_protocol && annotation(svc, PROXY_PROTOCOL_ANNOTATION) == Some("true")
    }

    fn open(
        &self,
        world: &dyn World,
        svc: &Value,
        key: &Key,
        ports: Vec<u16>,
    ) -> Result<Balancer, String> {
        if ports.is_empty() {
            return Err(
                "the Service has no TCP port; the simulated load balancer serves TCP only".into(),
            );
        }
        let uid = object::uid(svc).to_string();
        let (ip, sockets) = bind(key, &uid, &ports)?;
        let route = Arc::new(RwLock::new(Route::build(
            world,
            svc,
            self.network.load_balancer,
            self.proxy_header(svc),
            ip,
        )));
        let counter = Arc::new(AtomicU64::new(0));
        let listeners = sockets
            .into_iter()
            .zip(&ports)
            .map(|(socket, port)| {
                Listener::spawn(socket, *port, Arc::clone(&route), Arc::clone(&counter))
            })
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|err| format!("cannot start a listener on {ip}: {err}"))?;
        Ok(Balancer {
            uid,
            ports,
            ip,
            route,
            _listeners: listeners,
        })
    }
}

fn event(svc: &Value, event_type: &str, reason: &str, message: String) -> Action {
    Action::Event {
        namespace: namespace(svc).to_string(),
        involved: object::involved(svc),
        event_type: event_type.into(),
        reason: reason.into(),
        message,
    }
}

impl Controller for LoadBalancerController {
    fn name(&self) -> &'static str {
        "service-controller"
    }

    fn watches(&self) -> &'static [&'static str] {
        &["Service", "Pod", "Node"]
    }

    fn reconcile(&self, world: &dyn World, _now: jiff::Timestamp) -> Vec<Action> {
        if self.network.load_balancer == LoadBalancerMode::Pending {
            return Vec::new();
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut actions = Vec::new();
        let mut managed = HashSet::new();
        for svc in world.list("Service", None, None) {
            let key: Key = (namespace(&svc).to_string(), name(&svc).to_string());
            let ours = str_at(&svc, "spec.type") == Some("LoadBalancer")
                && at(&svc, "spec.loadBalancerClass").is_none();
            let has_finalizer = finalizers(&svc).iter().any(|f| f == CLEANUP_FINALIZER);
            if !ours || is_terminating(&svc) {
                // Close first, then let the Service go.
                state.balancers.remove(&key);
                if has_finalizer {
                    let mut released = with_finalizer(&svc, false);
                    if !is_terminating(&svc)
                        && let Some(status) =
                            released.get_mut("status").and_then(Value::as_object_mut)
                    {
                        status.remove("loadBalancer");
                    }
                    actions.push(Action::Update(released));
                    if is_terminating(&svc) {
                        actions.push(event(
                            &svc,
                            "Normal",
                            "DeletedLoadBalancer",
                            "Deleted load balancer".into(),
                        ));
                    }
                }
                continue;
            }
            managed.insert(key.clone());
            let ports = tcp_ports(&svc);
            let uid = object::uid(&svc).to_string();
            let current = state
                .balancers
                .get(&key)
                .is_some_and(|b| b.uid == uid && b.ports == ports);
            let mut desired = with_finalizer(&svc, true);
            if !current {
                state.balancers.remove(&key);
                if state.failed.get(&key) != Some(&(uid.clone(), ports.clone())) {
                    match self.open(world, &svc, &key, ports.clone()) {
                        Ok(balancer) => {
                            state.failed.remove(&key);
                            actions.push(event(
                                &svc,
                                "Normal",
                                "EnsuredLoadBalancer",
                                format!("Ensured load balancer at {}", balancer.ip),
                            ));
                            state.balancers.insert(key.clone(), balancer);
                        }
                        Err(why) => {
                            actions.push(event(
                                &svc,
                                "Warning",
                                "SyncLoadBalancerFailed",
                                format!("Error syncing load balancer: {why}"),
                            ));
                            state.failed.insert(key.clone(), (uid, ports));
                        }
                    }
                }
            }
            if let Some(balancer) = state.balancers.get(&key) {
                let route = Route::build(
                    world,
                    &svc,
                    self.network.load_balancer,
                    self.proxy_header(&svc),
                    balancer.ip,
                );
                *balancer.route.write().unwrap_or_else(|e| e.into_inner()) = route;
                desired["status"]["loadBalancer"] =
                    json!({"ingress": [{"ip": balancer.ip.to_string(), "ipMode": "VIP"}]});
            }
            if desired != svc {
                actions.push(Action::Update(desired));
            }
        }
        state.balancers.retain(|k, _| managed.contains(k));
        state.failed.retain(|k, _| managed.contains(k));
        actions
    }
}
