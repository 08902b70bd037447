//! The transcoder against the `k8s-pb` message types (prost), the reference for the wire form.

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::json;

use super::*;

fn wrap(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [MAGIC.to_vec(), unknown.encode_to_vec()].concat()
}

fn unwrap(body: &[u8]) -> (TypeMeta, Vec<u8>) {
    let unknown = Unknown::decode(body.strip_prefix(MAGIC).expect("magic")).expect("Unknown");
    (unknown.type_meta.unwrap(), unknown.raw.unwrap())
}

/// What kubectl sends for `create deployment web --image=... --replicas=3`, as prost encodes it.
fn kubectl_deployment() -> apps::Deployment {
    apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: Some("web".into()),
            namespace: Some(String::new()),
            labels: [("app".to_string(), "web".to_string())].into(),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(3),
            selector: Some(meta::LabelSelector {
                match_labels: [("app".to_string(), "web".to_string())].into(),
                ..Default::default()
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: [("app".to_string(), "web".to_string())].into(),
                    ..Default::default()
                }),
                spec: Some(core::PodSpec {
                    containers: vec![core::Container {
                        name: Some("pause".into()),
                        image: Some("registry.k8s.io/pause:3.10".into()),
                        resources: Some(core::ResourceRequirements {
                            limits: [(
                                "memory".to_string(),
                                Quantity {
                                    string: Some("64Mi".into()),
                                },
                            )]
                            .into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    termination_grace_period_seconds: Some(30),
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: Some("RollingUpdate".into()),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: Some("25%".into()),
                    }),
                    max_surge: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(1),
                        str_val: Some(String::new()),
                    }),
                }),
            }),
            ..Default::default()
        }),
        status: Some(apps::DeploymentStatus::default()),
    }
}

#[test]
fn decodes_a_deployment_as_prost_encodes_it() {
    let body = wrap(
        "apps/v1",
        "Deployment",
        kubectl_deployment().encode_to_vec(),
    );
    let obj = decode_object(&body).unwrap();
    assert_eq!(obj["apiVersion"], "apps/v1");
    assert_eq!(obj["kind"], "Deployment");
    assert_eq!(obj["metadata"]["name"], "web");
    // Go writes empty strings and zero times for non-pointer fields; JSON leaves them out.
    assert!(obj["metadata"].get("namespace").is_none());
    assert!(obj["metadata"].get("creationTimestamp").is_none());
    assert_eq!(obj["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(obj["spec"]["replicas"], 3);
    assert_eq!(obj["spec"]["selector"]["matchLabels"]["app"], "web");
    let container = &obj["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.k8s.io/pause:3.10");
    assert_eq!(container["resources"]["limits"]["memory"], "64Mi");
    assert_eq!(
        obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        30
    );
    let rolling = &obj["spec"]["strategy"]["rollingUpdate"];
    assert_eq!(rolling["maxUnavailable"], "25%");
    assert_eq!(rolling["maxSurge"], 1);
}

#[test]
fn encodes_json_objects_that_prost_decodes() {
    let obj = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "resourceVersion": "7",
            "creationTimestamp": "2026-01-02T03:04:05Z",
            "labels": {"a": "b"}, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "rs", "uid": "u1", "controller": true}]},
        "spec": {"containers": [{"name": "c", "image": "i",
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "livenessProbe": {"httpGet": {"path": "/", "port": "http"}}}],
            "nodeName": "n1"},
        "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
            "conditions": [{"type": "Ready", "status": "True",
                "lastTransitionTime": "2026-01-02T03:04:06Z"}]},
        "unknownField": {"dropped": true}
    });
    let body = encode_object(&obj).unwrap();
    let (type_meta, raw) = unwrap(&body);
    assert_eq!(type_meta.kind.as_deref(), Some("Pod"));
    let pod = core::Pod::decode(&raw[..]).unwrap();
    let meta = pod.metadata.unwrap();
    assert_eq!(meta.name.as_deref(), Some("p"));
    assert_eq!(meta.resource_version.as_deref(), Some("7"));
    assert_eq!(
        meta.creation_timestamp.unwrap().seconds,
        Some(1_767_323_045)
    );
    assert_eq!(meta.owner_references[0].controller, Some(true));
    let spec = pod.spec.unwrap();
    assert_eq!(spec.node_name.as_deref(), Some("n1"));
    assert_eq!(spec.containers[0].ports[0].container_port, Some(80));
    let port = spec.containers[0]
        .liveness_probe
        .clone()
        .unwrap()
        .handler
        .unwrap()
        .http_get
        .unwrap()
        .port
        .unwrap();
    assert_eq!(
        (port.r#type, port.str_val.as_deref()),
        (Some(1), Some("http"))
    );
    let status = pod.status.unwrap();
    assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(status.pod_ips[0].ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(status.conditions[0].r#type.as_deref(), Some("Ready"));
    // And back: the same JSON, less the field the message does not have.
    let mut back = decode_envelope(&body).unwrap();
    let mut want = obj.clone();
    want.as_object_mut().unwrap().remove("unknownField");
    back.as_object_mut().unwrap().remove("unknownField");
    assert_eq!(back, want);
}

#[test]
fn secrets_bytes_and_lists_round_trip() {
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s"}, "type": "Opaque", "data": {"k": "aGVsbG8="}});
    let body = encode_object(&secret).unwrap();
    let (_, raw) = unwrap(&body);
    let decoded = core::Secret::decode(&raw[..]).unwrap();
    assert_eq!(decoded.data["k"], b"hello");
    assert_eq!(decode_envelope(&body).unwrap(), secret);

    let item = Bytes::from(
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c"}, "data": {"x": "y"}})
        .to_string(),
    );
    let list = encode_list(
        "v1",
        "ConfigMap",
        &json!({"resourceVersion": "5", "continue": "abc"}),
        &[item.clone(), item],
    )
    .unwrap();
    let (type_meta, raw) = unwrap(&list);
    assert_eq!(type_meta.kind.as_deref(), Some("ConfigMapList"));
    let decoded = core::ConfigMapList::decode(&raw[..]).unwrap();
    assert_eq!(decoded.items.len(), 2);
    assert_eq!(decoded.items[1].data["x"], "y");
    let meta = decoded.metadata.unwrap();
    assert_eq!(
        (meta.resource_version.as_deref(), meta.r#continue.as_deref()),
        (Some("5"), Some("abc"))
    );
}

#[test]
fn watch_frames_are_length_prefixed_watch_events() {
    let object = encode_object(&json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "n"}}))
    .unwrap();
    let mut out = BytesMut::new();
    watch_frame(&mut out, "ADDED", &object);
    let len = u32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
    assert_eq!(len, out.len() - 4);
    let event = meta::WatchEvent::decode(&out[4..]).unwrap();
    assert_eq!(event.r#type.as_deref(), Some("ADDED"));
    let raw = event.object.unwrap().raw.unwrap();
    assert_eq!(
        decode_envelope(&raw).unwrap()["metadata"]["name"],
        json!("n")
    );
}

#[test]
fn access_reviews_decode_like_kubectl_sends_them() {
    use k8s_pb::api::authorization::v1 as authz;
    let review = authz::SelfSubjectAccessReview {
        metadata: Some(Default::default()),
        spec: Some(authz::SelfSubjectAccessReviewSpec {
            resource_attributes: Some(authz::ResourceAttributes {
                namespace: Some("ns".into()),
                verb: Some("create".into()),
                group: Some(String::new()),
                resource: Some("pods".into()),
                ..Default::default()
            }),
            non_resource_attributes: None,
        }),
        status: Some(Default::default()),
    };
    let body = wrap(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        review.encode_to_vec(),
    );
    let obj = decode_object(&body).unwrap();
    assert_eq!(obj["spec"]["resourceAttributes"]["verb"], "create");
    assert_eq!(obj["spec"]["resourceAttributes"]["resource"], "pods");
    assert_eq!(obj["spec"]["resourceAttributes"]["namespace"], "ns");
}

#[test]
fn garbage_and_unknown_kinds_are_rejected_not_a_crash() {
    assert_eq!(decode_object(b"nope").unwrap_err().code, 400);
    assert_eq!(decode_object(b"k8s\0\x0a\xff").unwrap_err().code, 400);
    let truncated = wrap("v1", "Pod", vec![0x0a, 0x05, 0x0a]);
    let err = decode_object(&truncated).unwrap_err();
    assert_eq!(err.code, 400, "{}", err.message);
    let custom = wrap(
        "infrastructure.cluster.x-k8s.io/v1beta1",
        "OpenStackCluster",
        vec![],
    );
    let err = decode_object(&custom).unwrap_err();
    assert_eq!(err.code, 415);
    assert!(err.message.contains("send it as JSON"), "{}", err.message);
}

#[test]
fn values_that_do_not_fit_their_field_are_not_encoded() {
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d"}, "spec": {"replicas": "three"}});
    assert!(encode_object(&bad).is_none());
    assert!(encode_object(&json!({"apiVersion": "x/v1", "kind": "Widget"})).is_none());
}

#[test]
fn accept_header_negotiation() {
    assert!(preferred(Some(
        "application/vnd.kubernetes.protobuf,application/json"
    )));
    assert!(!preferred(Some("application/json, */*")));
    assert!(!preferred(None));
    assert!(preferred(Some(
        "application/vnd.kubernetes.protobuf;stream=watch"
    )));
}

#[test]
fn every_served_built_in_kind_has_a_protobuf_form() {
    for rt in crate::resources::RESOURCES {
        let custom = rt.group.ends_with(".x-k8s.io");
        assert_eq!(
            has_protobuf(&rt.api_version(), rt.kind),
            !custom,
            "{} {}",
            rt.api_version(),
            rt.kind
        );
    }
    assert!(has_protobuf("authentication.k8s.io/v1", "TokenRequest"));
}
