//! Paginated LIST (`limit` + `continue`): read-only checks walk large clusters one page at a
//! time, so memory stays flat however many objects there are.

use kube::Api;
use kube::api::ListParams;
use serde::de::DeserializeOwned;

/// Objects per LIST request.
pub const PAGE_SIZE: u32 = 500;

/// Call `visit` for every object `api` lists (with `params`' selectors), one page at a time.
/// Returns how many LIST requests were made.
pub async fn for_each<K>(
    api: &Api<K>,
    params: ListParams,
    mut visit: impl FnMut(K),
) -> Result<usize, kube::Error>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut params = params.limit(PAGE_SIZE);
    let mut requests = 0;
    loop {
        let page = api.list(&params).await?;
        requests += 1;
        page.items.into_iter().for_each(&mut visit);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(requests),
        }
    }
}

/// A one-line ABORT reason for a failed API call, naming the missing right when it is a 403.
pub fn describe_error(
    what: &str,
    verb: &str,
    group: &str,
    resource: &str,
    err: &kube::Error,
) -> String {
    match err {
        kube::Error::Api(status) if status.code == 403 => {
            let group = if group.is_empty() { "core" } else { group };
            format!(
                "no permission to {what}: grant `{verb}` on `{resource}` (API group {group}) to the \
                 checking user (see deploy/rbac.yaml)"
            )
        }
        other => format!("cannot {what}: {other}"),
    }
}
